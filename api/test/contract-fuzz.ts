import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';

/**
 * Requests generated from the API's own OpenAPI document (the TypeBox schemas): every operation,
 * every parameter, values inside the documented bounds and just outside them plus the values that
 * once reached PostgreSQL (NUL, year 0000, offsets past ±15:59, leap seconds, huge numbers).
 * Responses are checked against the documented schema of the status they come with.
 */
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

interface Param {
  name: string;
  in: 'query' | 'path' | 'header';
  required?: boolean;
  schema: JsonSchema;
}
interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  anyOf?: JsonSchema[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  format?: string;
}
interface Operation {
  parameters?: Param[];
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
export interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown> };
}

export interface GeneratedRequest {
  method: 'GET' | 'POST';
  path: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

const hostileText = fc.constantFrom(
  '%00',
  'a%00b',
  '%ff%fe',
  '%ed%a0%80',
  "'; DROP TABLE jobs; --",
  '%',
  '%25',
  '..%2F..%2Fetc%2Fpasswd',
  '%E2%80%AE',
  '%F0%9F%92%A9',
  '\\u0000',
  '%0d%0aSet-Cookie:%20x=1',
);
const hostileDates = fc.constantFrom(
  '0000-01-01T00:00:00Z',
  '2024-01-01T00:00:00%2B16:00',
  '2024-01-01T00:00:00-23:59',
  '2016-12-31T23:59:60Z',
  '2024-02-30T00:00:00Z',
  '10000-01-01T00:00:00Z',
  '9999-12-31T23:59:59-15:59',
  '0001-01-01T00:00:00%2B15:59',
  'yesterday',
  '2024-05-01',
  '1714564800000',
);
const hostileNumbers = fc.constantFrom('1.5', '1e400', '-0', '', 'NaN', '99999999999999999999', '0x10', ' 1', '-1');

const enc = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ff'; // a lone surrogate cannot be encoded: send invalid UTF-8 instead
  }
};

/** A raw (already URL-encoded) value for one parameter. */
function valueFor(s: JsonSchema): fc.Arbitrary<string> {
  const values = s.enum ?? s.anyOf?.flatMap((a) => a.enum ?? []);
  if (values?.length)
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...values.map(String)) },
      { weight: 1, arbitrary: hostileText },
    );
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  if (type === 'integer' || type === 'number') {
    const min = s.minimum ?? -1000;
    const max = s.maximum ?? 1000;
    return fc.oneof(
      { weight: 5, arbitrary: fc.integer({ min, max }).map(String) },
      { weight: 2, arbitrary: fc.integer({ min: min - 1000, max: max + 1000 }).map(String) },
      { weight: 2, arbitrary: hostileNumbers.map(enc) },
    );
  }
  if (type === 'boolean') return fc.constantFrom('true', 'false', 'yes', '1', '', 'TRUE', '%00');
  if (s.format === 'date-time')
    return fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
          .map((d) => enc(d.toISOString())),
      },
      { weight: 3, arbitrary: hostileDates },
    );
  const maxLength = s.maxLength ?? 100;
  return fc.oneof(
    { weight: 5, arbitrary: fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(maxLength, 40) }).map(enc) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map(enc) },
    { weight: 1, arbitrary: fc.constant('x'.repeat(maxLength + 1)) },
    { weight: 3, arbitrary: hostileText },
  );
}

/** One request for one operation: each parameter present or not, its value valid or not. */
function requestFor(
  path: string,
  method: string,
  op: Operation,
  bodies: fc.Arbitrary<unknown>,
  keys: fc.Arbitrary<Record<string, string>>,
): fc.Arbitrary<GeneratedRequest> {
  const params = op.parameters ?? [];
  const parts = params.map((p) =>
    p.required || p.in === 'path'
      ? valueFor(p.schema).map((v) => [p, v] as const)
      : fc.option(
          valueFor(p.schema).map((v) => [p, v] as const),
          { nil: undefined },
        ),
  );
  return fc
    .tuple(fc.tuple(...parts), keys, op.requestBody ? bodies.map((b) => b) : fc.constant(undefined))
    .map(([values, headers, body]) => {
      let url = path;
      const query: string[] = [];
      for (const pv of values) {
        if (!pv) continue;
        const [p, v] = pv;
        if (p.in === 'path') url = url.replace(`{${p.name}}`, v === '' ? '%20' : v);
        else if (p.in === 'query') query.push(`${p.name}=${v}`);
      }
      if (query.length) url += `?${query.join('&')}`;
      const req: GeneratedRequest = {
        method: method.toUpperCase() as 'GET' | 'POST',
        path,
        url,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      };
      if (body !== undefined) req.payload = typeof body === 'string' ? body : JSON.stringify(body);
      return req;
    });
}

export function contractArbitrary(
  doc: OpenApiDoc,
  opts: { bodies: fc.Arbitrary<unknown>; keys: fc.Arbitrary<Record<string, string>>; skip?: (path: string) => boolean },
): fc.Arbitrary<GeneratedRequest> {
  const ops: fc.Arbitrary<GeneratedRequest>[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    if (opts.skip?.(path)) continue;
    for (const [method, op] of Object.entries(methods)) ops.push(requestFor(path, method, op, opts.bodies, opts.keys));
  }
  return fc.oneof(...ops);
}

/** Validators of every documented JSON response, by `METHOD path status`. */
export function responseValidators(
  doc: OpenApiDoc,
): (req: GeneratedRequest, status: number) => ValidateFunction | 'undocumented' | 'not-json' {
  const ajv = addFormats(new Ajv({ strict: false, allErrors: false, validateFormats: false }));
  ajv.addSchema(doc as object, 'openapi');
  const cache = new Map<string, ValidateFunction | 'undocumented' | 'not-json'>();
  const pointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
  return (req, status) => {
    const key = `${req.method} ${req.path} ${status}`;
    let v = cache.get(key);
    if (v) return v;
    const op = doc.paths[req.path]?.[req.method.toLowerCase()];
    const res = op?.responses[String(status)];
    if (!res) v = 'undocumented';
    else if (!res.content?.['application/json']) v = 'not-json';
    else
      v = ajv.compile({
        $ref: `openapi#/paths/${pointer(req.path)}/${req.method.toLowerCase()}/responses/${status}/content/application~1json/schema`,
      });
    cache.set(key, v);
    return v;
  };
}
