import { Ajv, type ErrorObject, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import type { FeedItem, ItemProblem } from './schemas.ts';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const common: Options = {
  allowUnionTypes: true,
  // TypeBox adds `description`/`$id`, and OpenAPI keywords like `example`; let them through.
  strict: false,
  unicodeRegExp: true,
};

/**
 * Bodies: every error reported (so a 400 names every invalid item and field), no coercion (a
 * number is not a title), unknown fields refused rather than stripped. A factory: the body worker
 * (body/worker.ts) builds its own, one per route schema.
 */
export function newBodyAjv(): Ajv {
  const ajv = addFormats(
    new Ajv({ ...common, allErrors: true, coerceTypes: false, removeAdditional: false, useDefaults: true }),
  );
  ajv.addFormat('date-time', { type: 'string', validate: isPgDateTime });
  return ajv;
}

const dateTimeRe = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * RFC 3339 date-time narrowed to what both PostgreSQL's timestamptz and Date.parse accept, so a
 * value that passes validation can never fail in SQL or turn into NaN in the vector filter:
 * years 0001-9999 (PostgreSQL has no year 0), UTC offsets within ±15:59 (PostgreSQL's range),
 * seconds 00-59 (a leap second `:60` is refused: Date.parse cannot represent it).
 */
export function isPgDateTime(s: string): boolean {
  const m = dateTimeRe.exec(s);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (year < 1 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  if (day < 1 || day > days) return false;
  if (m[7] && (Number(m[8]) > 15 || Number(m[9]) > 59)) return false;
  return Number.isFinite(Date.parse(s));
}

export const bodyAjv = newBodyAjv();
/** Query strings and params: strings coerced to the declared type, defaults applied. */
export const queryAjv = addFormats(
  new Ajv({ ...common, allErrors: true, coerceTypes: true, removeAdditional: false, useDefaults: true }),
);
queryAjv.addFormat('date-time', { type: 'string', validate: isPgDateTime });

/** Bodies the body worker already validated against their route's schema, with its verdict (null: valid). */
const verdicts = new WeakMap<object, ErrorObject[] | null>();

/** Records the body worker's verdict on a body, so the route's validator takes it instead of validating again. */
export function markValidated(body: object, errors: ErrorObject[] | null): void {
  verdicts.set(body, errors);
}

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  if (httpPart !== 'body') return queryAjv.compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
  const validate = bodyAjv.compile(schema as object);
  // Fastify reads `.errors` off the function it called, as ajv's own validators carry them
  const checked = Object.assign(
    (data: unknown): boolean => {
      const verdict = typeof data === 'object' && data !== null ? verdicts.get(data) : undefined;
      if (verdict !== undefined) {
        verdicts.delete(data as object);
        checked.errors = verdict;
        return verdict === null;
      }
      const ok = validate(data);
      checked.errors = validate.errors ?? null;
      return ok;
    },
    { errors: null as ErrorObject[] | null },
  );
  return checked as unknown as ReturnType<FastifySchemaCompiler<unknown>>;
};

const MAX_FUTURE_MS = 24 * 3600 * 1000;

/**
 * The body errors ajv found, as `{ index, field, message }` per item and field (one entry per
 * field: the first problem), plus whether the envelope itself (not an object, no `items`, too
 * many items, unknown top-level field) is broken, in which case nothing can be accepted.
 */
export function itemProblems(errors: readonly ErrorObject[]): { envelope: ItemProblem[]; items: ItemProblem[] } {
  const envelope: ItemProblem[] = [];
  const byKey = new Map<string, ItemProblem>();
  for (const e of errors) {
    const path = e.instancePath.split('/').slice(1);
    const missing = (e.params as { missingProperty?: string }).missingProperty;
    const extra = (e.params as { additionalProperty?: string }).additionalProperty;
    if (path[0] !== 'items' || path.length < 2) {
      // the body or the items array itself
      const field = path.length === 0 ? (missing ?? extra ?? null) : 'items';
      envelope.push({ index: null, field, message: extra ? 'unknown field' : (e.message ?? 'invalid') });
      continue;
    }
    const index = Number(path[1]);
    const field = path[2] ?? missing ?? extra ?? null;
    const key = `${index}\u0000${field}`;
    if (byKey.has(key)) continue;
    let message = e.message ?? 'invalid';
    if (extra) message = 'unknown field';
    else if (
      e.keyword === 'pattern' &&
      (field === 'title' || field === 'source' || field === 'guid' || field === 'summary')
    )
      message = 'must not contain control characters or unpaired surrogates';
    else if (e.keyword === 'pattern' && field === 'url') message = 'must be an absolute http(s) URL without spaces';
    else if (e.keyword === 'required') message = 'is required';
    byKey.set(key, { index, field, message });
  }
  const items = [...byKey.values()].sort((a, b) => (a.index ?? -1) - (b.index ?? -1));
  return { envelope, items };
}

/** Checks JSON Schema cannot express: dates in range, a URL the WHATWG parser accepts. */
export function semanticProblems(
  items: readonly FeedItem[],
  reported: ReadonlySet<string>,
  now = Date.now(),
): ItemProblem[] {
  const out: ItemProblem[] = [];
  items.forEach((it, index) => {
    if (typeof it !== 'object' || it === null || Array.isArray(it)) return;
    const push = (p: ItemProblem) => {
      if (!reported.has(`${index}:${p.field}`)) out.push(p);
    };
    if (typeof it.published_at === 'string') {
      const t = Date.parse(it.published_at);
      if (!Number.isFinite(t)) push({ index, field: 'published_at', message: 'must be a valid date-time' });
      else if (t < 0 || t > now + MAX_FUTURE_MS)
        push({ index, field: 'published_at', message: 'must be between 1970 and one day from now' });
    }
    if (typeof it.url === 'string' && !URL.canParse(it.url))
      push({ index, field: 'url', message: 'must be an absolute http(s) URL' });
    if (typeof it.title === 'string' && it.title.trim() === '')
      push({ index, field: 'title', message: 'must not be blank' });
    if (typeof it.source === 'string' && it.source.trim() === '')
      push({ index, field: 'source', message: 'must not be blank' });
  });
  return out;
}
