import { isUtf8 } from 'node:buffer';
import { jsonOverLimits } from '@feedlog/common/json-depth';
import sjson from 'secure-json-parse';

/** Why a body is not accepted JSON, as plain data (it crosses from the body worker to the main thread). */
export type JsonRefusal =
  | { kind: 'empty' }
  | { kind: 'encoding' }
  | { kind: 'depth'; max: number }
  | { kind: 'values'; max: number }
  | { kind: 'syntax'; message: string };

export type JsonOutcome = { ok: true; value: unknown } | { ok: false; refusal: JsonRefusal };

/**
 * A request body as JSON, strictly: invalid UTF-8 refused (not replaced by U+FFFD), `__proto__`
 * and `constructor.prototype` keys refused, nesting and the number of values bounded by a scan
 * of the bytes before anything is built. Pure, so the main thread and the body worker share it.
 */
export function parseJsonBody(buf: Buffer, maxDepth: number, maxValues: number): JsonOutcome {
  if (buf.length === 0) return { ok: false, refusal: { kind: 'empty' } };
  if (!isUtf8(buf)) return { ok: false, refusal: { kind: 'encoding' } };
  const over = jsonOverLimits(buf, { maxDepth, maxValues });
  if (over === 'depth') return { ok: false, refusal: { kind: 'depth', max: maxDepth } };
  if (over === 'values') return { ok: false, refusal: { kind: 'values', max: maxValues } };
  try {
    return { ok: true, value: sjson.parse(buf.toString('utf8'), { protoAction: 'error', constructorAction: 'error' }) };
  } catch (e) {
    return { ok: false, refusal: { kind: 'syntax', message: String((e as Error).message).slice(0, 200) } };
  }
}
