import type { Socket } from 'node:net';
import createError, { type FastifyErrorConstructor } from '@fastify/error';
import { errorCodeOf, errorCodes } from '@feedlog/common';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Every error the API answers with, in one place. Bodies are always
 * `{ error: <code>, message: <text>, details: <object|array|null> }`; `error` is a stable
 * snake_case code clients can branch on. 5xx bodies never carry internal messages: only the
 * request id (the log line with that id has the cause).
 */
export interface ErrorBody {
  error: string;
  message: string;
  details: unknown;
}

/** An error that carries `details` for the body. */
export interface DetailedError extends FastifyError {
  details?: unknown;
}

function withDetails(ctor: FastifyErrorConstructor) {
  return (details: unknown, ...args: unknown[]): DetailedError => {
    const e = new ctor(...args) as DetailedError;
    e.details = details;
    return e;
  };
}

const InvalidItems = createError('invalid_items', 'the batch has %s invalid item(s); nothing was accepted', 400);
const InvalidRequest = createError('invalid_request', '%s', 400);
const InvalidJson = createError('invalid_json', 'the body is not valid JSON: %s', 400);
const InvalidEncoding = createError('invalid_encoding', 'the body is not valid UTF-8', 400);
const Unauthorized = createError('unauthorized', '%s', 401);
const Forbidden = createError('forbidden', '%s', 403);
const NotFound = createError('not_found', '%s', 404);
const Conflict = createError('conflict', '%s', 409);
const LengthRequired = createError('length_required', '%s', 411);
const RateLimited = createError('rate_limited', 'rate limit of %s requests per %s exceeded; retry in %s', 429);
const Unavailable = createError('unavailable', '%s', 503);
const Busy = createError('busy', '%s; retry in %s s', 503);

export const errors = {
  invalidItems: withDetails(InvalidItems),
  invalidRequest: withDetails(InvalidRequest),
  invalidJson: (why: string): DetailedError => new InvalidJson(why),
  invalidEncoding: (): DetailedError => new InvalidEncoding(),
  unauthorized: (msg = 'this route needs an API key in the x-api-key header'): DetailedError => new Unauthorized(msg),
  forbidden: (msg: string): DetailedError => new Forbidden(msg),
  notFound: (msg: string): DetailedError => new NotFound(msg),
  conflict: (msg: string): DetailedError => new Conflict(msg),
  lengthRequired: (msg: string): DetailedError => new LengthRequired(msg),
  rateLimited: (max: number, window: string, after: string): DetailedError => new RateLimited(max, window, after),
  /** A dependency is down: 503 with a message that names the component, never its internals. */
  unavailable: (msg: string): DetailedError => {
    const e = new Unavailable(msg) as DetailedError & { expose: boolean };
    e.expose = true;
    return e;
  },
  /** The API is shedding this kind of work for now (a full large-body queue): 503 + Retry-After, nothing was done. */
  busy: (msg: string, retryAfterS: number): DetailedError => {
    const e = new Busy(msg, retryAfterS) as DetailedError & { expose: boolean; retryAfter: number };
    e.expose = true;
    e.retryAfter = retryAfterS;
    return e;
  },
};

/** Fastify's own client errors, renamed to the API's codes. */
const fastifyCodes: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_VALIDATION: 'invalid_request',
  FST_ERR_NOT_FOUND: 'not_found',
  FST_ERR_MAX_PARAM_LENGTH: 'uri_too_long',
  FST_ERR_BAD_URL: 'invalid_request',
};

/** Map ajv errors of a non-body part (query, params) to `[{ field, message }]`. */
function validationDetails(err: FastifyError): unknown {
  if (!err.validation) return null;
  return err.validation.map((v) => {
    const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
    const missing = (v.params as { missingProperty?: string }).missingProperty;
    const extra = (v.params as { additionalProperty?: string }).additionalProperty;
    return {
      in: err.validationContext ?? null,
      field: missing ?? extra ?? (path || null),
      message: extra ? 'unknown field' : (v.message ?? 'invalid'),
    };
  });
}

/**
 * A coded feedlog error (serde, registry, runtime) that reached the handler without an HTTP
 * status: the status comes from the error list of @feedlog/common; a retriable one (a dependency
 * is down) is answered as such, with the code and without the internal message.
 */
function fromFeedlogCode(err: FastifyError): FastifyError {
  if (err.statusCode) return err;
  const code = errorCodeOf(err);
  if (!code) return err;
  const spec = errorCodes[code];
  if (!spec.retriable) return Object.assign(err, { statusCode: spec.status, code: code.toLowerCase() });
  const e = errors.unavailable(`a dependency is unavailable (${code}); retry later`);
  return Object.assign(e, { statusCode: spec.status, code: code.toLowerCase() });
}

export function errorHandler(raw: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const err = fromFeedlogCode(raw);
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
  const retryAfter = (err as { retryAfter?: number }).retryAfter;
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  if (status >= 500) {
    const exposed = (err as { expose?: boolean }).expose === true;
    // one line per failure at error level; the stack only at debug, so a flood of 500s cannot
    // fill the log with stacks (the request id ties the two together)
    if (!exposed) {
      req.log.error({ err: { type: err.name, message: err.message, code: err.code } }, 'request failed');
      req.log.debug({ err }, 'request failed (stack)');
    } else
      req.log.warn(
        { err: err.message },
        err.code?.toLowerCase() === 'busy' ? 'shedding load' : 'dependency unavailable',
      );
    const body: ErrorBody = {
      error: exposed ? (err.code ?? 'unavailable').toLowerCase() : 'internal_error',
      message: exposed ? err.message : 'internal error; the log has the cause under this request id',
      details: { request_id: req.id },
    };
    reply.code(status).send(body);
    return;
  }
  // @fastify/error upper-cases codes; the API's codes are snake_case
  const code = err.code
    ? (fastifyCodes[err.code] ?? (err.code.startsWith('FST_') ? 'invalid_request' : err.code.toLowerCase()))
    : 'invalid_request';
  const details = (err as DetailedError).details ?? validationDetails(err);
  const body: ErrorBody = { error: code, message: err.message, details: details ?? null };
  reply.code(status).send(body);
}

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (headers too large, a malformed
 * request line, a timeout), answered with the API's body instead of Fastify's own. The socket is
 * then closed, as Node does.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, body] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [
          431,
          'Request Header Fields Too Large',
          {
            error: 'headers_too_large',
            message: 'the request headers are larger than the server accepts',
            details: null,
          },
        ]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [
            408,
            'Request Timeout',
            { error: 'request_timeout', message: 'the request was not received in time', details: null },
          ]
        : [400, 'Bad Request', { error: 'invalid_request', message: 'malformed HTTP request', details: null }];
  const text = JSON.stringify(body satisfies ErrorBody);
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(text)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${text}`,
    );
  socket.destroy(err);
}
