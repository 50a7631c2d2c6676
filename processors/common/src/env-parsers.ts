import { z } from 'zod';

/**
 * Parsers of raw environment strings, strict on purpose: `KAFKA_PORT=80x0`, `LOG_BATCHES=yes` or
 * `KAFKA_BROKERS=,` fail at start-up with the variable named, instead of turning into NaN, false
 * or the default somewhere downstream. Each returns a zod schema over the string; add
 * `.default(…)` or `.optional()` for an unset variable.
 */

/** zod's message for an absent value of a required variable */
const required = { error: (i: { input?: unknown }) => (i.input === undefined ? 'required, not set' : undefined) };

export const str = () => z.string(required).trim().min(1, 'must not be blank');

/** An integer in [min, max] written in decimal digits (no 1e3, no 0x10, no "12 ms"). */
export function int(o: { min?: number; max?: number } = {}) {
  const min = o.min ?? Number.MIN_SAFE_INTEGER;
  const max = o.max ?? Number.MAX_SAFE_INTEGER;
  const range =
    o.min !== undefined && o.max !== undefined
      ? ` from ${min} to ${max}`
      : o.min !== undefined
        ? ` ≥ ${min}`
        : o.max !== undefined
          ? ` ≤ ${max}`
          : '';
  return z.string(required).transform((s, ctx) => {
    const t = s.trim();
    const n = /^[+-]?\d+$/.test(t) ? Number(t) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `expected an integer${range}` });
      return z.NEVER;
    }
    return n;
  });
}

/** A TCP port, 1–65535 (`{ zero: true }`: 0 too, "any free port"). */
export const port = (o: { zero?: boolean } = {}) => int({ min: o.zero ? 0 : 1, max: 65535 });

/** true/false/1/0 only: `yes`, `on` or a typo is an error, not a silent false. */
export const bool = () =>
  z.string(required).transform((s, ctx) => {
    const t = s.trim().toLowerCase();
    if (t === 'true' || t === '1') return true;
    if (t === 'false' || t === '0') return false;
    ctx.addIssue({ code: 'custom', message: 'expected true, false, 1 or 0' });
    return z.NEVER;
  });

/** An absolute URL with one of `protocols` (without the colon). */
export const url = (protocols: readonly string[] = ['http', 'https']) =>
  z.string(required).transform((s, ctx) => {
    let u: URL | undefined;
    try {
      u = new URL(s.trim());
    } catch {
      u = undefined;
    }
    if (!u || !protocols.includes(u.protocol.slice(0, -1))) {
      ctx.addIssue({ code: 'custom', message: `expected a ${protocols.join('/')} URL` });
      return z.NEVER;
    }
    return s.trim();
  });

/** Comma-separated, entries trimmed; at least one entry (a lone comma or blanks are an error). */
export const list = (entry?: { pattern: RegExp; what: string }) =>
  z.string(required).transform((s, ctx) => {
    const items = s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    if (items.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'expected a comma-separated list with at least one entry' });
      return z.NEVER;
    }
    const bad = entry ? items.filter((x) => !entry.pattern.test(x)) : [];
    if (bad.length) {
      ctx.addIssue({ code: 'custom', message: `each entry must be ${entry?.what}: ${bad.join(', ')}` });
      return z.NEVER;
    }
    return items;
  });

/** One of `values`, exactly. */
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.string(required).transform((s, ctx) => {
    const t = s.trim();
    if (!(values as readonly string[]).includes(t)) {
      ctx.addIssue({ code: 'custom', message: `expected one of ${values.join(', ')}` });
      return z.NEVER;
    }
    return t as T[number];
  });
