import { type ErrorCode, FeedlogError, isRetriable } from '@feedlog/common';

export { isRetriable };

/**
 * Typed stage errors, coded from @feedlog/common's list. `retriable` (the code's flag) decides
 * what the runtime does with a failed record:
 * retriable → retried with exponential backoff and jitter (then dead-lettered when attempts run out);
 * not retriable → dead-lettered at once. Unknown errors (a TypeError from a bug…) are treated as
 * not retriable for the record that caused them; the runtime isolates that record by bisecting.
 */
export class StageError extends FeedlogError {
  constructor(message: string, opts: { retriable?: boolean; cause?: unknown; code?: ErrorCode } = {}) {
    const code = opts.code ?? (opts.retriable ? 'FEEDLOG_RETRIABLE' : 'FEEDLOG_POISON_RECORD');
    super(code, message, opts.cause === undefined ? undefined : { cause: opts.cause });
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
    super(message, { ...opts, code: 'FEEDLOG_PAYLOAD_DECODE' });
  }
}

/** The output value could not be encoded for the output topic. */
export class EncodeError extends StageError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { ...opts, code: 'FEEDLOG_RECORD_ENCODE' });
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
    super(`circuit breaker ${breaker} is open; retry in ${retryAfterMs} ms`, { code: 'FEEDLOG_BREAKER_OPEN' });
  }
}

/** The Kafka side failed in a way that invalidates the open transaction (fenced, timed out…). */
export class TransactionError extends StageError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { ...opts, code: 'FEEDLOG_TRANSACTION' });
  }
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
