/**
 * The one error vocabulary of feedlog: a closed list of codes, each with whether a retry can help
 * and the HTTP status a server answers with. Errors carry `code` and `retriable`; callers decide
 * with `findErrorBy`/`errorCodeOf`/`isRetriable`, never by matching messages.
 * processors/common/README.md has the same list as a table (a test fails when they differ).
 */
export interface ErrorCodeSpec {
  /** Whether the same operation can succeed later (a dependency was down), as opposed to bad input. */
  readonly retriable: boolean;
  /** The HTTP status a server answers with when this error reaches its error handler. */
  readonly status: number;
  /** One line for the documentation. */
  readonly description: string;
}

export const errorCodes = {
  FEEDLOG_WIRE_TRUNCATED: {
    retriable: false,
    status: 400,
    description: 'shorter than the 5-byte Confluent header (magic byte + schema id)',
  },
  FEEDLOG_WIRE_BAD_MAGIC_BYTE: {
    retriable: false,
    status: 400,
    description: 'first byte is not the Confluent magic byte 0: not Confluent wire format',
  },
  FEEDLOG_UNKNOWN_SCHEMA_ID: {
    retriable: false,
    status: 422,
    description: 'the schema id in the header is not in the schema registry (40403)',
  },
  FEEDLOG_INCOMPATIBLE_SCHEMA: {
    retriable: false,
    status: 422,
    description: 'the writer schema is not Avro or cannot be read as the local record',
  },
  FEEDLOG_PAYLOAD_DECODE: {
    retriable: false,
    status: 400,
    description: 'header and schema fine, but the body does not decode',
  },
  FEEDLOG_RECORD_ENCODE: {
    retriable: false,
    status: 422,
    description: 'the value does not match its schema (or cannot be encoded)',
  },
  FEEDLOG_SCHEMA_NOT_REGISTERED: {
    retriable: false,
    status: 503,
    description: 'the local schema is not registered under its subject: run `feedlog schemas register`',
  },
  FEEDLOG_REGISTRY_UNAVAILABLE: {
    retriable: true,
    status: 503,
    description: 'the schema registry could not be reached or answered 5xx',
  },
  FEEDLOG_POISON_RECORD: {
    retriable: false,
    status: 422,
    description: 'the record itself is bad: dead-lettered, never retried',
  },
  FEEDLOG_RETRIABLE: {
    retriable: true,
    status: 503,
    description: 'a transient failure (timeout, 503, connection reset): retried with backoff',
  },
  FEEDLOG_BREAKER_OPEN: {
    retriable: true,
    status: 503,
    description: 'a circuit breaker is open: the partition pauses, no attempt is counted',
  },
  FEEDLOG_TRANSACTION: {
    retriable: true,
    status: 503,
    description: 'the Kafka transaction was invalidated (fenced, timed out): the batch is redone',
  },
  FEEDLOG_STALE_OFFSET: {
    retriable: true,
    status: 409,
    description: 'the stored offset moved under the writer: positions are re-read',
  },
  FEEDLOG_REGISTRY_NOT_FOUND: {
    retriable: false,
    status: 404,
    description: 'registry: subject, version or schema not found',
  },
  FEEDLOG_REGISTRY_CONFLICT: {
    retriable: false,
    status: 409,
    description: 'registry: the schema is incompatible with the subject',
  },
  FEEDLOG_REGISTRY_INVALID: {
    retriable: false,
    status: 422,
    description: 'registry: invalid schema, version, subject, level or mode',
  },
  FEEDLOG_REGISTRY_UNAUTHORIZED: {
    retriable: false,
    status: 401,
    description: 'registry: missing or wrong credentials',
  },
  FEEDLOG_REGISTRY_STORE: {
    retriable: true,
    status: 500,
    description: "registry: its PostgreSQL store failed (Confluent's 50001)",
  },
} as const satisfies Record<`FEEDLOG_${string}`, ErrorCodeSpec>;

export type ErrorCode = keyof typeof errorCodes;

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && Object.hasOwn(errorCodes, v);
}

/** Base class for errors that carry a code of the list; `retriable` follows the code. */
export class FeedlogError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.retriable = errorCodes[code].retriable;
  }
}

/** Each link of `error`'s chain: itself, its `cause`s, an AggregateError's `errors` (breadth first, cycle-safe). */
function* chain(error: unknown): Generator<object> {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null || seen.has(e)) continue;
    seen.add(e);
    yield e;
    try {
      queue.push((e as { cause?: unknown }).cause);
      const inner = (e as { errors?: unknown }).errors;
      if (Array.isArray(inner)) queue.push(...inner);
    } catch {
      // a throwing getter: this link has no further links
    }
  }
}

function read(e: object, prop: string): unknown {
  try {
    return (e as Record<string, unknown>)[prop];
  } catch {
    return undefined;
  }
}

/**
 * The first error in `error`'s chain (itself, its `cause`s, an AggregateError's `errors`) whose
 * `prop` equals `value`, or undefined. Never throws, whatever it is given (cycles, getters that
 * throw, non-errors).
 */
export function findErrorBy(error: unknown, prop: string, value: unknown): Error | undefined {
  for (const e of chain(error)) if (e instanceof Error && read(e, prop) === value) return e;
  return undefined;
}

/** The first code of the list in `error`'s chain (the outermost wins: a wrapper knows more), or undefined. Never throws. */
export function errorCodeOf(error: unknown): ErrorCode | undefined {
  for (const e of chain(error)) {
    const code = read(e, 'code');
    if (isErrorCode(code)) return code;
  }
  return undefined;
}

/**
 * Whether a retry can help: the code's flag when the error carries a code of the list, else the
 * error's own `retriable` (kafkajs and fetch errors carry one), else false. Programming errors
 * (TypeError, RangeError…) are never retriable.
 */
export function isRetriable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = read(error, 'code');
  if (isErrorCode(code)) return errorCodes[code].retriable;
  return read(error, 'retriable') === true;
}

/** The README table of the codes (the test compares it with processors/common/README.md). */
export function errorCodesMarkdown(): string {
  const rows = (Object.entries(errorCodes) as [ErrorCode, ErrorCodeSpec][]).map(
    ([code, s]) => `| \`${code}\` | ${s.retriable ? 'yes' : 'no'} | ${s.status} | ${s.description} |`,
  );
  return ['| code | retriable | HTTP | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
