import fc from 'fast-check';

/**
 * Malformed POST /v1/items requests. Every one must be refused whole: each body carries at least
 * one invalid element, so no request here may produce anything. Shared by the unit fuzz test
 * (in-memory sink) and the integration fuzz test (real broker: topic end offsets must not move).
 */
export interface FuzzRequest {
  kind: string;
  url: string;
  headers: Record<string, string>;
  payload: Buffer | string;
}

const fields = ['source', 'url', 'title', 'guid', 'summary', 'published_at'] as const;
const required = ['source', 'url', 'title'] as const;

const validItem = fc.record({
  source: fc.constantFrom('reuters', 'ap', 'https://feeds.example.org/rss'),
  url: fc.nat(1_000_000).map((n) => `https://example.com/a/${n}`),
  title: fc.string({ minLength: 1, maxLength: 60 }).map((s) => `T ${s.replace(/[\p{Cc}\p{Cs}]/gu, '')}`),
  guid: fc.option(fc.uuid(), { nil: null }),
  summary: fc.option(fc.lorem({ maxCount: 8 }), { nil: null }),
  published_at: fc.option(
    fc
      .date({ min: new Date('2000-01-01'), max: new Date('2024-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString()),
    { nil: null },
  ),
});

const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant([]),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

const control = fc
  .integer({ min: 0, max: 0x1f })
  .filter((c) => c !== 0x09 && c !== 0x0a && c !== 0x0d)
  .chain((c) => fc.constantFrom(String.fromCharCode(c), '\u007f', '\u0085', '\u009b'));

// Deep values are spliced in as text: JSON.stringify of a 5,000-deep array overflows a worker's stack.
const deep = (depth: number) => `__DEEP_${depth}__`;

/** An item with exactly one kind of defect (sometimes several). */
const badItem = fc.tuple(validItem, fc.constantFrom(...fields), fc.nat(9)).chain(([it, field, which]) => {
  const base: Record<string, unknown> = { ...it };
  switch (which) {
    case 0: // wrong type in any field (null is fine only in optional fields)
      return wrongType.map((v) => ({ ...base, [field]: v }));
    case 1: // a required field missing
      return fc.constantFrom(...required).map((f) => {
        const { [f]: _, ...rest } = base;
        return rest;
      });
    case 2: // huge string
      return fc.integer({ min: 11_000, max: 60_000 }).map((n) => ({ ...base, [field]: 'x'.repeat(n) }));
    case 3: // control character in a one-line field
      return fc
        .tuple(control, fc.constantFrom('title', 'source', 'guid'))
        .map(([c, f]) => ({ ...base, [f]: `a${c}b` }));
    case 4: // unpaired surrogate
      return fc.constantFrom('\ud800', '\udfff', 'a\udc00b').map((s) => ({ ...base, title: s }));
    case 5: // extra field
      return fc
        .string({ minLength: 1, maxLength: 20 })
        .filter((k) => !(fields as readonly string[]).includes(k) && k !== '__proto__' && k !== 'constructor')
        .map((k) => ({ ...base, [k]: 1 }));
    case 6: // deep nesting as a field value
      return fc.integer({ min: 100, max: 5_000 }).map((d) => ({ ...base, [field]: deep(d) }));
    case 7: // bad URL
      return fc
        .constantFrom(
          'not a url',
          'ftp://x.org/a',
          'javascript:alert(1)',
          'http://',
          'https://exa mple.com',
          '//x.org/a',
          '',
        )
        .map((u) => ({ ...base, url: u }));
    case 8: // bad date
      return fc
        .constantFrom(
          'yesterday',
          '2024-13-01T00:00:00Z',
          '2024-02-30T00:00:00Z',
          '1969-12-31T23:59:59Z',
          '2999-01-01T00:00:00Z',
          '2024-05-01',
          '1714564800000',
        )
        .map((d) => ({ ...base, published_at: d }));
    default: // empty required string or not an object at all
      return fc.oneof(
        fc.constantFrom(...required).map((f) => ({ ...base, [f]: '' })),
        fc.constantFrom(null, 1, 'item', [], true),
      );
  }
});

/** A batch of 1..20 items with at least one bad one, at a random position. */
const badBatch = fc.tuple(fc.array(validItem, { maxLength: 19 }), badItem, fc.nat()).map(([good, bad, pos]) => {
  const items: unknown[] = [...good];
  items.splice(pos % (good.length + 1), 0, bad);
  return items;
});

const json = (v: unknown) =>
  JSON.stringify(v).replace(/"__DEEP_(\d+)__"/g, (_, d: string) => `${'['.repeat(Number(d))}${']'.repeat(Number(d))}`);

export function fuzzArbitrary(maxBatch: number, bodyLimit: number): fc.Arbitrary<FuzzRequest> {
  const ct = { 'content-type': 'application/json' };
  const req = (kind: string, payload: Buffer | string, headers: Record<string, string> = ct, partial = false) => ({
    kind,
    url: partial ? '/v1/items?partial=true' : '/v1/items',
    headers,
    payload,
  });
  return fc.oneof(
    { weight: 30, arbitrary: badBatch.map((items) => req('bad-item', json({ items }))) },
    // partial=true cannot rescue a batch with no valid item
    {
      weight: 4,
      arbitrary: fc
        .array(badItem, { minLength: 1, maxLength: 5 })
        .map((items) => req('all-bad-partial', json({ items }), ct, true)),
    },
    {
      weight: 6,
      arbitrary: fc
        .oneof(
          fc.constant({}),
          fc.constant({ items: [] }),
          wrongType.map((v) => ({ items: v })),
          wrongType,
          fc.constant(null),
          fc.string({ maxLength: 30 }),
          fc
            .tuple(validItem, fc.string({ minLength: 1, maxLength: 10 }))
            .map(([it, k]) => ({ items: [it], [`x${k}`]: 1 })),
          validItem.map((it) => ({ item: [it] })),
          validItem.map((it) => [it]),
        )
        .map((b) => req('envelope', json(b))),
    },
    {
      weight: 2,
      arbitrary: validItem.map((it) =>
        req('too-many', json({ items: Array.from({ length: maxBatch + 1 }, () => it) })),
      ),
    },
    {
      weight: 4,
      arbitrary: fc
        .integer({ min: 1_000, max: 100_000 })
        .map((d) => req('deep-body', `{"items":${'['.repeat(d)}${']'.repeat(d)}}`)),
    },
    {
      weight: 6,
      arbitrary: fc
        .tuple(
          fc.nat(),
          fc.constantFrom(
            [0xff],
            [0xc3, 0x28],
            [0xe2, 0x82],
            [0xf0, 0x28, 0x8c, 0x28],
            [0xed, 0xa0, 0x80],
            [0xc0, 0xaf],
          ),
        )
        .chain(([pos, bytes]) =>
          validItem.map((it) => {
            // invalid UTF-8 inside an otherwise valid batch's title: the bytes alone make it invalid
            const text = json({ items: [{ ...it, title: 'INVALID' }] });
            const at = text.indexOf('INVALID');
            const buf = Buffer.concat([
              Buffer.from(text.slice(0, at)),
              Buffer.from(bytes),
              Buffer.from(text.slice(at + 7)),
            ]);
            return req(`bad-utf8@${pos % 2}`, buf);
          }),
        ),
    },
    {
      weight: 6,
      arbitrary: fc
        .tuple(validItem, fc.nat(200))
        .map(([it, cut]) => {
          const text = json({ items: [it] });
          return text.slice(0, Math.min(cut, text.length - 1));
        })
        .map((t) => req('truncated-json', t)),
    },
    {
      weight: 4,
      arbitrary: fc
        .constantFrom(
          '{"items":[{"__proto__":{"x":1}}]}',
          '{"__proto__":{"items":[]}}',
          '{"items":[{"constructor":{"prototype":{"x":1}}}]}',
          "{'items':[]}",
          '{"items":[1,]}',
          'NaN',
          '{"items":[{"title":"\\ud800"}]}',
          '\u0000',
          '   ',
        )
        .map((t) => req('nasty-json', t)),
    },
    {
      weight: 6,
      arbitrary: fc
        .tuple(
          validItem,
          fc.constantFrom(
            'text/plain',
            'application/xml',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/jsonx',
            'image/png',
            'application/octet-stream',
          ),
        )
        .map(([it, type]) => req(`content-type ${type}`, json({ items: [it] }), { 'content-type': type })),
    },
    { weight: 2, arbitrary: validItem.map((it) => req('no-content-type', json({ items: [it] }), {})) },
    {
      weight: 2,
      arbitrary: fc
        .constant(null)
        .map(() => req('over-body-limit', json({ items: [{ title: 'y'.repeat(bodyLimit + 10) }] }))),
    },
  );
}

export function fuzzRequests(n: number, seed: number, maxBatch: number, bodyLimit: number): FuzzRequest[] {
  return fc.sample(fuzzArbitrary(maxBatch, bodyLimit), { numRuns: n, seed });
}
