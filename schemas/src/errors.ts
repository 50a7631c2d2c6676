/**
 * Typed serialization errors. `retriable` tells the stage runtime what to do: retry with backoff
 * (the registry is down) or send the record to its dead-letter topic (the bytes will never decode).
 */
export abstract class SerdeError extends Error {
  abstract readonly retriable: boolean;
  /** Stable machine-readable code, for DLQ records and metrics. */
  abstract readonly code: string;
  constructor(
    message: string,
    readonly topic: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Shorter than the 5-byte Confluent header (magic byte + schema id). */
export class TruncatedMessageError extends SerdeError {
  readonly retriable = false;
  readonly code = 'truncated-message';
}

/** First byte is not the Confluent magic byte 0: not written by a Confluent-format serializer. */
export class WrongMagicByteError extends SerdeError {
  readonly retriable = false;
  readonly code = 'wrong-magic-byte';
  constructor(
    readonly magicByte: number,
    topic: string,
  ) {
    super(`message on ${topic} starts with byte ${magicByte}, expected the Confluent magic byte 0`, topic);
  }
}

/** The registry does not know the schema id in the header. */
export class UnknownSchemaIdError extends SerdeError {
  readonly retriable = false;
  readonly code = 'unknown-schema-id';
  constructor(
    readonly schemaId: number,
    topic: string,
    options?: { cause?: unknown },
  ) {
    super(`schema id ${schemaId} (message on ${topic}) is not in the schema registry`, topic, options);
  }
}

/** The writer schema is not Avro, or cannot be read as the local record (no resolution exists). */
export class IncompatibleSchemaError extends SerdeError {
  readonly retriable = false;
  readonly code = 'incompatible-schema';
}

/** Header fine, schema fine, but the Avro body does not decode (truncated, corrupt, trailing bytes). */
export class PayloadDecodeError extends SerdeError {
  readonly retriable = false;
  readonly code = 'payload-decode';
}

/** The value does not match the schema; `paths` name the offending fields. */
export class RecordEncodeError extends SerdeError {
  readonly retriable = false;
  readonly code = 'record-encode';
  constructor(
    message: string,
    topic: string,
    readonly paths: string[],
    options?: { cause?: unknown },
  ) {
    super(message, topic, options);
  }
}

/** The local schema is not registered under the subject (and auto-registration is off). */
export class SchemaNotRegisteredError extends SerdeError {
  readonly retriable = false;
  readonly code = 'schema-not-registered';
}

/** The registry could not be reached or answered 5xx: worth retrying. */
export class RegistryUnavailableError extends SerdeError {
  readonly retriable = true;
  readonly code = 'registry-unavailable';
}

export function isSerdeError(e: unknown): e is SerdeError {
  return e instanceof SerdeError;
}
