import { isUtf8 } from 'node:buffer';
import { jsonOverLimits } from '@feedlog/common/json-depth';
import type { FastifyInstance } from 'fastify';
import sjson from 'secure-json-parse';
import { errors } from '../errors.ts';

/** Deepest `[`/`{` nesting a body may have; the deepest real body (items → item → field) is 3. */
export const MAX_JSON_DEPTH = 32;
/** Array elements + object members a body may hold: 500 items × 6 fields is about 3,500. */
export const MAX_JSON_VALUES = 20_000;

/**
 * The only body parser: JSON, strictly. Invalid UTF-8 is refused (not replaced by U+FFFD),
 * `__proto__` and `constructor.prototype` keys are refused, nesting and the number of values are
 * bounded by a scan of the bytes before parsing.
 * Everything else gets 415. Fastify only runs it for a matched route with a body (unknown routes
 * are answered 404 in onRequest, before the body is read: see guards.ts).
 */
export function installJsonParser(app: FastifyInstance, maxDepth = MAX_JSON_DEPTH, maxValues = MAX_JSON_VALUES): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    const buf = body as Buffer;
    if (buf.length === 0) return done(errors.invalidJson('empty body'), undefined);
    if (!isUtf8(buf)) return done(errors.invalidEncoding(), undefined);
    const over = jsonOverLimits(buf, { maxDepth, maxValues });
    if (over === 'depth') return done(errors.invalidJson(`nested deeper than ${maxDepth} levels`), undefined);
    if (over === 'values') return done(errors.invalidJson(`more than ${maxValues} values`), undefined);
    try {
      done(null, sjson.parse(buf.toString('utf8'), { protoAction: 'error', constructorAction: 'error' }));
    } catch (e) {
      done(errors.invalidJson(String((e as Error).message).slice(0, 200)), undefined);
    }
  });
}
