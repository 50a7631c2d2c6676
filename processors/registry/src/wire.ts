/**
 * Confluent wire format: magic byte 0, 4-byte big-endian schema id, then the Avro binary body.
 *
 * Decode failures are typed so the stage runtime can route them without string matching:
 *  - `WireFormatError` (code BAD_MAGIC_BYTE | TRUNCATED): the bytes are not a Confluent frame. Never
 *    retriable: the same bytes fail the same way, so they go to the dead-letter topic.
 *  - `UnknownSchemaError`: the frame names a schema id the registry does not know. The registry answers
 *    HTTP 404 with error_code 40403 ("Schema 42 not found"); `classifyRegistryError` turns that, as
 *    thrown by either client (@kafkajs/confluent-schema-registry's ResponseError with status 404, or
 *    @confluentinc/schemaregistry's RestError with errorCode 40403), into UnknownSchemaError,
 *    non-retriable → dead-letter topic.
 *  - `RegistryUnavailableError`: the registry could not be asked (connection refused, 5xx such as
 *    50001 store error). Retriable with backoff: the message itself is fine.
 */
export const MAGIC_BYTE = 0;
export const HEADER_SIZE = 5;

export type WireFormatErrorCode = 'BAD_MAGIC_BYTE' | 'TRUNCATED';

export class WireFormatError extends Error {
  override name = 'WireFormatError';
  readonly retriable = false;
  constructor(
    readonly code: WireFormatErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export class UnknownSchemaError extends Error {
  override name = 'UnknownSchemaError';
  readonly code = 'UNKNOWN_SCHEMA_ID';
  readonly retriable = false;
  constructor(
    readonly schemaId: number,
    options?: { cause?: unknown },
  ) {
    super(`schema id ${schemaId} is not known to the schema registry (40403)`, options);
  }
}

export class RegistryUnavailableError extends Error {
  override name = 'RegistryUnavailableError';
  readonly code = 'REGISTRY_UNAVAILABLE';
  readonly retriable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface ConfluentFrame {
  schemaId: number;
  payload: Buffer;
}

export function decodeConfluentFrame(buf: Buffer | Uint8Array | null | undefined): ConfluentFrame {
  if (!buf || buf.length === 0) throw new WireFormatError('TRUNCATED', 'empty message: no Confluent header');
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (b[0] !== MAGIC_BYTE) {
    throw new WireFormatError('BAD_MAGIC_BYTE', `unknown magic byte ${b[0]} (expected ${MAGIC_BYTE})`);
  }
  if (b.length < HEADER_SIZE) {
    throw new WireFormatError('TRUNCATED', `message of ${b.length} bytes is shorter than the 5-byte Confluent header`);
  }
  return { schemaId: b.readInt32BE(1), payload: b.subarray(HEADER_SIZE) };
}

export function encodeConfluentFrame(schemaId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, payload]);
}

/** Map an error thrown by a registry client while fetching schema `schemaId` to a typed error. */
export function classifyRegistryError(err: unknown, schemaId: number): Error {
  const e = err as { status?: unknown; errorCode?: unknown; message?: unknown };
  const status = typeof e?.status === 'number' ? e.status : undefined;
  if (e?.errorCode === 40403 || status === 404) return new UnknownSchemaError(schemaId, { cause: err });
  return new RegistryUnavailableError(
    `schema registry failed for schema id ${schemaId}: ${String(e?.message ?? err)}`,
    {
      cause: err,
    },
  );
}

/**
 * Decode a Confluent-framed message with any schema fetcher (e.g. a cached registry client), so every
 * failure comes out typed: WireFormatError, UnknownSchemaError or RegistryUnavailableError.
 */
export async function decodeWith<T>(
  buf: Buffer,
  fetchType: (schemaId: number) => Promise<{ fromBuffer(b: Buffer): T }>,
): Promise<{ schemaId: number; value: T }> {
  const { schemaId, payload } = decodeConfluentFrame(buf);
  let type: { fromBuffer(b: Buffer): T };
  try {
    type = await fetchType(schemaId);
  } catch (err) {
    throw classifyRegistryError(err, schemaId);
  }
  return { schemaId, value: type.fromBuffer(payload) };
}
