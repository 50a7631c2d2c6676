import { type ErrorCode, FeedlogError } from '@feedlog/common';

/**
 * Typed serialization and wire-format errors. The code (of @feedlog/common's list) decides what the
 * stage runtime does: retry with backoff (the registry is down) or send the record to its
 * dead-letter topic (the bytes will never decode). `topic` is '' when the bytes came from no topic.
 */
export abstract class SerdeError extends FeedlogError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly topic: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** Shorter than the 5-byte Confluent header (magic byte + schema id). */
export class TruncatedMessageError extends SerdeError {
  constructor(message: string, topic: string, options?: { cause?: unknown }) {
    super('FEEDLOG_WIRE_TRUNCATED', message, topic, options);
  }
}

/** First byte is not the Confluent magic byte 0: not written by a Confluent-format serializer. */
export class WrongMagicByteError extends SerdeError {
  constructor(
    readonly magicByte: number,
    topic: string,
  ) {
    super(
      'FEEDLOG_WIRE_BAD_MAGIC_BYTE',
      `message${topic ? ` on ${topic}` : ''} starts with byte ${magicByte}, expected the Confluent magic byte 0`,
      topic,
    );
  }
}

/** The registry does not know the schema id in the header. */
export class UnknownSchemaIdError extends SerdeError {
  constructor(
    readonly schemaId: number,
    topic: string,
    options?: { cause?: unknown },
  ) {
    super(
      'FEEDLOG_UNKNOWN_SCHEMA_ID',
      `schema id ${schemaId}${topic ? ` (message on ${topic})` : ''} is not in the schema registry`,
      topic,
      options,
    );
  }
}

/** The writer schema is not Avro, or cannot be read as the local record (no resolution exists). */
export class IncompatibleSchemaError extends SerdeError {
  constructor(message: string, topic: string, options?: { cause?: unknown }) {
    super('FEEDLOG_INCOMPATIBLE_SCHEMA', message, topic, options);
  }
}

/** Header fine, schema fine, but the Avro body does not decode (truncated, corrupt, trailing bytes). */
export class PayloadDecodeError extends SerdeError {
  constructor(message: string, topic: string, options?: { cause?: unknown }) {
    super('FEEDLOG_PAYLOAD_DECODE', message, topic, options);
  }
}

/** The value does not match the schema; `paths` name the offending fields. */
export class RecordEncodeError extends SerdeError {
  constructor(
    message: string,
    topic: string,
    readonly paths: string[],
    options?: { cause?: unknown },
  ) {
    super('FEEDLOG_RECORD_ENCODE', message, topic, options);
  }
}

/** The local schema is not registered under the subject (and auto-registration is off). */
export class SchemaNotRegisteredError extends SerdeError {
  constructor(message: string, topic: string, options?: { cause?: unknown }) {
    super('FEEDLOG_SCHEMA_NOT_REGISTERED', message, topic, options);
  }
}

/** The registry could not be reached or answered 5xx: worth retrying. */
export class RegistryUnavailableError extends SerdeError {
  constructor(message: string, topic: string, options?: { cause?: unknown }) {
    super('FEEDLOG_REGISTRY_UNAVAILABLE', message, topic, options);
  }
}

export function isSerdeError(e: unknown): e is SerdeError {
  return e instanceof SerdeError;
}
