import {
  RegistryUnavailableError,
  TruncatedMessageError,
  UnknownSchemaIdError,
  WrongMagicByteError,
} from './errors.ts';

/**
 * The Confluent wire format, the one implementation in feedlog: magic byte 0, 4-byte big-endian
 * schema id, then the payload (Avro binary for the Serde, JSON for the runtime's test codec).
 * Every failure is typed (errors.ts): a frame that is not one is never retriable; a registry that
 * cannot be asked is.
 */
export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

export interface ConfluentFrame {
  schemaId: number;
  payload: Buffer;
}

/** Split a frame; `topic` only names where the bytes came from in the error. */
export function readFrame(buf: Buffer | Uint8Array | null | undefined, topic = ''): ConfluentFrame {
  const length = buf?.length ?? 0;
  if (!buf || length < HEADER_BYTES) {
    // a non-zero first byte says more than the length (a JSON or text value)
    if (buf && length > 0 && buf[0] !== MAGIC_BYTE) throw new WrongMagicByteError(buf[0]!, topic);
    throw new TruncatedMessageError(
      `message${topic ? ` on ${topic}` : ''} has ${length} bytes, fewer than the ${HEADER_BYTES}-byte Confluent header`,
      topic,
    );
  }
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (b[0] !== MAGIC_BYTE) throw new WrongMagicByteError(b[0]!, topic);
  return { schemaId: b.readInt32BE(1), payload: b.subarray(HEADER_BYTES) };
}

const SLAB_BYTES = 64 * 1024;
let slab = Buffer.allocUnsafe(SLAB_BYTES);
let slabUsed = 0;

/**
 * A frame whose payload `write(buf, pos)` writes in place (avsc's `Type.encode`: it returns the
 * end, or minus the bytes it lacked), carved from a slab shared with the frames that follow, as
 * Node's Buffer pool does: no copy of the payload and no allocation per record. A slab is never
 * written twice; a full one is left to the GC with the last frame that points into it. The
 * payload is written once, or twice when it did not fit what was left of the slab.
 */
export function writeFrameWith(schemaId: number, write: (buf: Buffer, pos: number) => number): Buffer {
  for (let room = SLAB_BYTES; ; ) {
    if (slab.length - slabUsed < HEADER_BYTES + 64) {
      slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, room));
      slabUsed = 0;
    }
    const start = slabUsed;
    const end = write(slab, start + HEADER_BYTES);
    if (end >= 0) {
      slab[start] = MAGIC_BYTE;
      slab.writeInt32BE(schemaId, start + 1);
      slabUsed = end;
      return slab.subarray(start, end);
    }
    // did not fit: a fresh slab with room for it (`-end` bytes were missing)
    room = slab.length - start - end + HEADER_BYTES;
    slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, room));
    slabUsed = 0;
  }
}

export function writeFrame(schemaId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = MAGIC_BYTE;
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, payload]);
}

/**
 * What a registry client threw while fetching schema `schemaId`, as a typed error: the registry's
 * 404 / 40403 (@kafkajs/confluent-schema-registry's ResponseError has `status`,
 * @confluentinc/schemaregistry's RestError has `errorCode`) is an UnknownSchemaIdError, anything
 * else (connection refused, 5xx such as 50001) a retriable RegistryUnavailableError.
 */
export function classifyRegistryError(
  err: unknown,
  schemaId: number,
  topic = '',
): UnknownSchemaIdError | RegistryUnavailableError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    status?: unknown;
    errorCode?: unknown;
    message?: unknown;
  };
  if (e.errorCode === 40403 || e.status === 404) return new UnknownSchemaIdError(schemaId, topic, { cause: err });
  return new RegistryUnavailableError(
    `schema registry failed for schema id ${schemaId}: ${String(e.message ?? err)}`,
    topic,
    { cause: err },
  );
}

/**
 * Decode a frame with any schema fetcher (a cached registry client, a static table), so every
 * failure comes out typed: a wire error, UnknownSchemaIdError or RegistryUnavailableError.
 */
export async function decodeWith<T>(
  buf: Buffer,
  fetchType: (schemaId: number) => Promise<{ fromBuffer(b: Buffer): T }>,
  topic = '',
): Promise<{ schemaId: number; value: T }> {
  const { schemaId, payload } = readFrame(buf, topic);
  let type: { fromBuffer(b: Buffer): T };
  try {
    type = await fetchType(schemaId);
  } catch (err) {
    throw classifyRegistryError(err, schemaId, topic);
  }
  return { schemaId, value: type.fromBuffer(payload) };
}
