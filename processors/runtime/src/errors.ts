/**
 * Typed stage errors. `retriable` decides what the runtime does with a failed record:
 * retriable → retried with exponential backoff and jitter (then dead-lettered when attempts run out);
 * not retriable → dead-lettered at once. Unknown errors (a TypeError from a bug…) are treated as
 * not retriable for the record that caused them; the runtime isolates that record by bisecting.
 */
export class StageError extends Error {
  readonly retriable: boolean;
  constructor(message: string, opts: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.retriable = opts.retriable ?? false;
  }
}

/** A transient failure (timeout, 503, connection reset): try again later. */
export class RetriableError extends StageError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { ...opts, retriable: true });
  }
}

/** The record itself is bad (a field the transform rejects): it goes to the DLQ, never retried. */
export class PoisonRecordError extends StageError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { ...opts, retriable: false });
  }
}

/** The bytes could not be decoded into the stage's input type. */
export class DecodeError extends StageError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { ...opts, retriable: false });
  }
}

/** Confluent wire format: the first byte is not the magic byte 0. */
export class BadMagicByteError extends DecodeError {}

/** Confluent wire format: the schema id in bytes 1..4 is unknown to the registry. */
export class UnknownSchemaError extends DecodeError {
  constructor(
    readonly schemaId: number,
    message = `unknown schema id ${schemaId}`,
  ) {
    super(message);
  }
}

/** The output value could not be encoded for the output topic. */
export class EncodeError extends StageError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { ...opts, retriable: false });
  }
}

/**
 * A circuit breaker is open: the dependency is down. Not the record's fault, so the runtime
 * neither counts an attempt nor dead-letters: it pauses the partition and tries again after
 * `retryAfterMs`.
 */
export class BreakerOpenError extends StageError {
  constructor(
    readonly breaker: string,
    readonly retryAfterMs: number,
  ) {
    super(`circuit breaker ${breaker} is open; retry in ${retryAfterMs} ms`, { retriable: true });
  }
}

/** The Kafka side failed in a way that invalidates the open transaction (fenced, timed out…). */
export class TransactionError extends StageError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { ...opts, retriable: true });
  }
}

export function isRetriable(e: unknown): boolean {
  if (e instanceof StageError) return e.retriable;
  // kafkajs errors, fetch/undici errors and friends carry their own flag
  if (typeof e === 'object' && e !== null && 'retriable' in e) return Boolean((e as { retriable: unknown }).retriable);
  return false;
}

export function errorClass(e: unknown): string {
  if (e instanceof Error) return e.name && e.name !== 'Error' ? e.name : e.constructor.name;
  return typeof e;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
