import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import sjson from 'secure-json-parse';
import { errors } from '../errors.ts';

/** Deepest `[`/`{` nesting a body may have; the deepest real body (items → item → field) is 3. */
export const MAX_JSON_DEPTH = 32;

/**
 * The nesting depth of a JSON text, or -1 once it exceeds `max`, counted over the bytes before
 * anything is built: JSON.parse of an 8 MiB `[[[[…` builds four million arrays and held the event
 * loop for seconds, while this scan is one pass with no allocation. Brackets inside strings
 * (escapes included) do not count; malformed text is left for JSON.parse to report.
 */
export function jsonDepth(buf: Uint8Array, max: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return -1;
      if (depth > deepest) deepest = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/**
 * The only body parser: JSON, strictly. Invalid UTF-8 is refused (not replaced by U+FFFD),
 * `__proto__` and `constructor.prototype` keys are refused, nesting is bounded before parsing.
 * Everything else gets 415. Fastify only runs it for a matched route with a body (unknown routes
 * are answered 404 in onRequest, before the body is read: see guards.ts).
 */
export function installJsonParser(app: FastifyInstance, maxDepth = MAX_JSON_DEPTH): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    const buf = body as Buffer;
    if (buf.length === 0) return done(errors.invalidJson('empty body'), undefined);
    if (!isUtf8(buf)) return done(errors.invalidEncoding(), undefined);
    if (jsonDepth(buf, maxDepth) < 0)
      return done(errors.invalidJson(`nested deeper than ${maxDepth} levels`), undefined);
    try {
      done(null, sjson.parse(buf.toString('utf8'), { protoAction: 'error', constructorAction: 'error' }));
    } catch (e) {
      done(errors.invalidJson(String((e as Error).message).slice(0, 200)), undefined);
    }
  });
}
