import { readFrame, UnknownSchemaIdError, writeFrame } from '@feedlog/schemas';
import { DecodeError, EncodeError } from './errors.ts';

/**
 * The serde seam. The runtime only ever calls these two methods, so an Avro serde over a
 * Confluent-compatible registry (the `Serde` of @feedlog/schemas) plugs in unchanged.
 * `decode` must throw a DecodeError (or subclass) for bytes it cannot read: those records go
 * to the DLQ instead of stopping the stage.
 */
export interface Codec<T> {
  decode(buf: Buffer): Promise<T>;
  encode(value: T, subject: string): Promise<Buffer>;
  /**
   * Optional fast path, tried first by the runtime for every record: the decoded value now, or
   * `undefined` when only `decode` can tell (the Serde meets a schema id it has not fetched yet).
   * Throws what `decode` would reject with. A codec whose values can be `undefined` must not offer it.
   */
  decodeNow?(buf: Buffer): T | undefined;
  /** Optional fast path for `encode`: the bytes now, or `undefined` when only `encode` can tell. */
  encodeNow?(value: T, subject: string): Buffer | undefined;
}

/** Plain UTF-8 strings (passthrough stages, benchmarks). */
export function stringCodec(): Codec<string> {
  return {
    decode: async (buf) => buf.toString('utf8'),
    encode: async (value) => Buffer.from(value, 'utf8'),
    decodeNow: (buf) => buf.toString('utf8'),
    encodeNow: (value) => Buffer.from(value, 'utf8'),
  };
}

/** Bytes unchanged. */
export function bytesCodec(): Codec<Buffer> {
  return {
    decode: async (buf) => buf,
    encode: async (value) => value,
    decodeNow: (buf) => buf,
    encodeNow: (value) => value,
  };
}

/** JSON values, unframed. */
export function jsonCodec<T>(validate?: (v: unknown) => T): Codec<T> {
  return {
    async decode(buf) {
      let v: unknown;
      try {
        v = JSON.parse(buf.toString('utf8'));
      } catch (e) {
        throw new DecodeError(`not JSON: ${(e as Error).message}`, { cause: e });
      }
      return validate ? validate(v) : (v as T);
    },
    async encode(value) {
      try {
        return Buffer.from(JSON.stringify(value), 'utf8');
      } catch (e) {
        throw new EncodeError(`cannot encode as JSON: ${(e as Error).message}`, { cause: e });
      }
    },
  };
}

/** What a framed codec needs from a registry: subject → id, and whether an id exists. */
export interface SchemaIds {
  idFor(subject: string): Promise<number>;
  exists(id: number): Promise<boolean>;
}

/** A fixed table of ids, for tests and for stages that pin their schemas. */
export function staticSchemaIds(table: Record<string, number>): SchemaIds {
  const ids = new Set(Object.values(table));
  return {
    async idFor(subject) {
      const id = table[subject];
      if (id === undefined) throw new EncodeError(`no schema id for subject ${subject}`);
      return id;
    },
    exists: async (id) => ids.has(id),
  };
}

/**
 * Confluent wire format with a JSON payload: the same framing (@feedlog/schemas' wire.ts) and the
 * same typed failures (WrongMagicByteError, TruncatedMessageError, UnknownSchemaIdError) as the
 * Avro serde, without needing Avro. Used by the runtime's
 * own tests; production stages use the schemas package's Avro serde behind the same interface.
 */
export function confluentJsonCodec<T>(ids: SchemaIds): Codec<T> {
  const inner = jsonCodec<T>();
  return {
    async decode(buf) {
      const { schemaId, payload } = readFrame(buf);
      if (!(await ids.exists(schemaId))) throw new UnknownSchemaIdError(schemaId, '');
      return inner.decode(payload);
    },
    async encode(value, subject) {
      return writeFrame(await ids.idFor(subject), await inner.encode(value, subject));
    },
  };
}
