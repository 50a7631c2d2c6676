import { itemId } from '@feedlog/schemas';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { MemorySink } from '../src/plugins/kafka.ts';
import { fuzzRequests } from './fuzz.ts';
import { item, READ_KEY, testApp, WRITE_KEY } from './helpers.ts';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const post = (a: FastifyInstance, payload: unknown, opts: { key?: string | null; url?: string } = {}) =>
  a.inject({
    method: 'POST',
    url: opts.url ?? '/v1/items',
    headers: opts.key === null ? {} : { 'x-api-key': opts.key ?? WRITE_KEY },
    payload: payload as Record<string, unknown>,
  });

describe('POST /v1/items', () => {
  it('accepts a valid batch: 202, job id, one item id per item, records keyed by item id', async () => {
    const t = await testApp();
    app = t.app;
    const items = [item(1), item(2, { guid: 'g-2' }), item(3, { published_at: null, summary: null })];
    const r = await post(app, { items });
    expect(r.statusCode).toBe(202);
    const body = r.json();
    expect(body.job_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers.location).toBe(`/v1/jobs/${body.job_id}`);
    expect(body.items.map((i: { index: number }) => i.index)).toEqual([0, 1, 2]);
    expect(body.items[0].item_id).toBe(itemId({ source: 'reuters', url: 'https://example.com/news/1?utm_source=x' }));
    expect(body.items[1].item_id).toBe(itemId({ source: 'reuters', guid: 'g-2', url: 'ignored' }));
    expect(t.sink.records).toHaveLength(3);
    const decoded = t.sink.records.map((rec) => ({ key: rec.key, value: t.encoder.decode(rec.value) }));
    for (const [i, d] of decoded.entries()) {
      expect(d.key).toBe(body.items[i].item_id);
      expect(d.value.item_id).toBe(d.key);
      expect(d.value.job_id).toBe(body.job_id);
    }
    // the canonical URL is stored (tracking parameters dropped), dates become epoch ms
    expect(decoded[0]!.value.headline).toMatchObject({
      source: 'reuters',
      url: 'https://example.com/news/1',
      title: 'Headline number 1',
      summary: 'A summary\nwith two lines',
      published_at: Date.parse('2024-05-01T12:00:00Z'),
      guid: null,
    });
    expect(decoded[2]!.value.headline.published_at).toBeNull();
    expect(t.sink.records[0]!.headers?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('re-posting the same items gives the same item ids and a new job', async () => {
    const t = await testApp();
    app = t.app;
    const items = [item(1), item(2, { guid: 'abc' })];
    const a = (await post(app, { items })).json();
    const b = (
      await post(app, { items: [item(1, { title: 'edited title', url: 'https://EXAMPLE.com/news/1#frag' }), items[1]] })
    ).json();
    expect(b.items).toEqual(a.items);
    expect(b.job_id).not.toBe(a.job_id);
  });

  it('names every invalid item and field, and produces nothing', async () => {
    const t = await testApp();
    app = t.app;
    const items = [
      item(0),
      item(1, { title: 'bell\u0007' }),
      item(2, { url: 'javascript:alert(1)', published_at: '2999-01-01T00:00:00Z' }),
      item(3),
      { title: 42 },
      item(5, { colour: 'red' }),
      item(6, { title: '\ud800' }),
      item(7, { published_at: '2024-02-30T10:00:00Z' }),
      item(8, { summary: 'y'.repeat(10_001) }),
    ];
    const r = await post(app, { items });
    expect(r.statusCode).toBe(400);
    const body = r.json();
    expect(body.error).toBe('invalid_items');
    const got = body.details.map((d: { index: number; field: string }) => `${d.index}.${d.field}`);
    expect(got).toEqual([
      '1.title',
      '2.published_at',
      '2.url',
      '4.source',
      '4.title',
      '4.url',
      '5.colour',
      '6.title',
      '7.published_at',
      '8.summary',
    ]);
    expect(t.sink.records).toHaveLength(0);
  });

  it('partial=true accepts the valid items and lists the rejected ones', async () => {
    const t = await testApp();
    app = t.app;
    const r = await post(
      app,
      { items: [item(0), item(1, { url: 'nope' }), item(2)] },
      { url: '/v1/items?partial=true' },
    );
    expect(r.statusCode).toBe(202);
    const body = r.json();
    expect(body.accepted).toBe(2);
    expect(body.items.map((i: { index: number }) => i.index)).toEqual([0, 2]);
    expect(body.rejected).toEqual([{ index: 1, field: 'url', message: expect.any(String) }]);
    expect(t.sink.records.map((x) => x.key)).toEqual(body.items.map((i: { item_id: string }) => i.item_id));
  });

  it('refuses envelopes: empty, too many items, unknown top-level field, not JSON, wrong content type', async () => {
    const t = await testApp({ maxBatch: 3 });
    app = t.app;
    const cases: [unknown, number, string][] = [
      [{ items: [] }, 400, 'invalid_request'],
      [{ items: [item(1), item(2), item(3), item(4)] }, 400, 'invalid_request'],
      [{ items: [item(1)], extra: true }, 400, 'invalid_request'],
      [[item(1)], 400, 'invalid_request'],
    ];
    for (const [payload, status, code] of cases) {
      const r = await post(app, payload);
      expect(r.statusCode, JSON.stringify(payload)).toBe(status);
      expect(r.json().error).toBe(code);
    }
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/items',
      headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
      payload: '{"items": [',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toBe('invalid_json');
    const text = await app.inject({
      method: 'POST',
      url: '/v1/items',
      headers: { 'x-api-key': WRITE_KEY, 'content-type': 'text/plain' },
      payload: JSON.stringify({ items: [item(1)] }),
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().error).toBe('unsupported_media_type');
    const proto = await app.inject({
      method: 'POST',
      url: '/v1/items',
      headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
      payload: '{"items":[{"__proto__":{"admin":true}}]}',
    });
    expect(proto.statusCode).toBe(400);
    expect(t.sink.records).toHaveLength(0);
  });

  it('refuses invalid UTF-8 instead of replacing it', async () => {
    const t = await testApp();
    app = t.app;
    const text = JSON.stringify({ items: [item(1, { title: 'XX' })] });
    const at = text.indexOf('XX');
    const payload = Buffer.concat([
      Buffer.from(text.slice(0, at)),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(text.slice(at + 2)),
    ]);
    const r = await app.inject({
      method: 'POST',
      url: '/v1/items',
      headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json' },
      payload,
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toBe('invalid_encoding');
    // the same text with a valid two-byte character is accepted
    const ok = await app.inject({
      method: 'POST',
      url: '/v1/items',
      headers: { 'x-api-key': WRITE_KEY, 'content-type': 'application/json; charset=utf-8' },
      payload: Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from('é'), Buffer.from(text.slice(at + 2))]),
    });
    expect(ok.statusCode).toBe(202);
    expect(t.encoder.decode(t.sink.records[0]!.value).headline.title).toBe('é');
  });

  it('enforces the body-size limit with 413', async () => {
    const t = await testApp({ bodyLimit: 4096 });
    app = t.app;
    const r = await post(app, { items: [item(1, { summary: 'z'.repeat(5000) })] });
    expect(r.statusCode).toBe(413);
    expect(r.json().error).toBe('payload_too_large');
    expect(t.sink.records).toHaveLength(0);
  });

  it('answers 503 without internals when Kafka fails, and nothing in the body leaks the cause', async () => {
    const t = await testApp();
    app = t.app;
    t.sink.failNext = new Error('KafkaJSConnectionError: broker 10.0.0.7:9092 secret-host refused');
    const r = await post(app, { items: [item(1)] });
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBeDefined();
    expect(r.json().error).toBe('unavailable');
    expect(r.body).not.toMatch(/secret-host|KafkaJS|10\.0\.0\.7/);
    expect(r.json().details.request_id).toBeTypeOf('string');
  });

  it('an encoding failure is a 503 naming the registry, without the cause', async () => {
    const t = await testApp();
    app = t.app;
    t.encoder.encode = async () => {
      throw new TypeError('cannot read properties of undefined (reading "secretField")');
    };
    const r = await post(app, { items: [item(1)] });
    expect(r.statusCode).toBe(503);
    expect(r.json().message).toMatch(/registry/);
    expect(r.body).not.toMatch(/secretField/);
    expect(t.sink.records).toHaveLength(0);
  });

  it('an unexpected failure is a 500 with only the request id', async () => {
    const pool = {
      query: async () => {
        throw Object.assign(new Error('relation secret_internal_table is broken'), { code: 'XX000' });
      },
      end: async () => undefined,
    } as unknown as import('pg').Pool;
    const t = await testApp({ pool });
    app = t.app;
    const r = await app.inject({ method: 'GET', url: '/v1/jobs/abc' });
    expect(r.statusCode).toBe(500);
    expect(r.json()).toEqual({
      error: 'internal_error',
      message: expect.any(String),
      details: { request_id: expect.any(String) },
    });
    expect(r.body).not.toMatch(/secret_internal_table|XX000/);
  });
});

describe('auth and limits', () => {
  it('write routes need a key with the write scope', async () => {
    const t = await testApp();
    app = t.app;
    expect((await post(app, { items: [item(1)] }, { key: null })).statusCode).toBe(401);
    const wrong = await post(app, { items: [item(1)] }, { key: 'fl_not_a_key' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ error: 'unauthorized' });
    const reader = await post(app, { items: [item(1)] }, { key: READ_KEY });
    expect(reader.statusCode).toBe(403);
    expect(reader.json().error).toBe('forbidden');
    expect(t.sink.records).toHaveLength(0);
    // public routes stay public, but a wrong key is still refused (never silently anonymous)
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-api-key': 'nope' } })).statusCode).toBe(
      401,
    );
  });

  it('rate-limits per key: one key exhausted does not limit another', async () => {
    const { MemoryApiKeyStore } = await import('../src/auth.ts');
    const keys = new MemoryApiKeyStore()
      .add('fl_a', { name: 'a', scopes: ['write'], rateLimitPerMinute: 3 })
      .add('fl_b', { name: 'b', scopes: ['write'], rateLimitPerMinute: 3 });
    const t = await testApp({ apiKeys: keys });
    app = t.app;
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await post(app, { items: [item(i)] }, { key: 'fl_a' })).statusCode);
    expect(codes).toEqual([202, 202, 202, 429, 429]);
    const limited = await post(app, { items: [item(9)] }, { key: 'fl_a' });
    expect(limited.json().error).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await post(app, { items: [item(1)] }, { key: 'fl_b' })).statusCode).toBe(202);
    expect(t.sink.records).toHaveLength(4);
  });

  it('sends no CORS headers unless origins are configured', async () => {
    const t = await testApp();
    app = t.app;
    const r = await app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://evil.example' } });
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
    await app.close();
    app = (await testApp({ corsOrigins: ['https://ok.example'] })).app;
    const ok = await app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://ok.example' } });
    expect(ok.headers['access-control-allow-origin']).toBe('https://ok.example');
  });
});

describe('errors, docs and metrics', () => {
  it('unknown routes and bad query strings are {error, message, details}', async () => {
    const t = await testApp();
    app = t.app;
    const nf = await app.inject({ method: 'GET', url: '/v2/nothing' });
    expect(nf.statusCode).toBe(404);
    expect(Object.keys(nf.json()).sort()).toEqual(['details', 'error', 'message']);
    const q = await app.inject({ method: 'GET', url: '/v1/jobs?limit=0&status=lost' });
    expect(q.statusCode).toBe(400);
    expect(q.json().error).toBe('invalid_request');
    const fields = q.json().details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['limit', 'status']));
    const s = await app.inject({ method: 'GET', url: '/v1/search' });
    expect(s.statusCode).toBe(400);
    expect(s.json().details[0].field).toBe('q');
  });

  it('serves an OpenAPI document describing the item schema and the API key', async () => {
    const t = await testApp();
    app = t.app;
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    const post = doc.paths['/v1/items'].post;
    const schema = post.requestBody.content['application/json'].schema;
    expect(schema.properties.items.maxItems).toBe(500);
    const ref: string = schema.properties.items.items.$ref ?? '';
    const feedItem = ref ? doc.components.schemas[ref.split('/').pop()!] : schema.properties.items.items;
    expect(feedItem.required).toEqual(['source', 'url', 'title']);
    expect(feedItem.additionalProperties).toBe(false);
    expect(post.security).toEqual([{ apiKey: [] }]);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/jobs/{id}', '/v1/jobs', '/v1/stories/{id}', '/v1/stories', '/v1/search', '/readyz']),
    );
  });

  it('counts accepted and rejected items in /metrics', async () => {
    const t = await testApp();
    app = t.app;
    await post(app, { items: [item(1), item(2)] });
    await post(app, { items: [item(1, { url: 'x' })] });
    const m = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(m).toMatch(/feedlog_api_items_accepted_total\{caller="mem-1"\} 2/);
    expect(m).toMatch(/feedlog_api_items_rejected_total\{caller="mem-1"\} 1/);
    expect(m).toMatch(
      /feedlog_api_http_request_duration_seconds_count\{method="POST",route="\/v1\/items",status="202"\} 1/,
    );
  });

  it('readyz reports each component and fails when a required one is down', async () => {
    const sink = new MemorySink();
    sink.check = async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:9092');
    };
    const t = await testApp({ sink });
    app = t.app;
    const r = await app.inject({ method: 'GET', url: '/readyz' });
    expect(r.statusCode).toBe(503);
    const body = r.json();
    expect(body.status).toBe('unavailable');
    expect(body.components.kafka).toMatchObject({ ok: false, error: expect.stringMatching(/ECONNREFUSED/) });
    expect(body.components.registry.ok).toBe(true);
    expect(body.components.postgres).toMatchObject({ ok: false, error: 'not configured' });
    expect(Object.keys(body.components).sort()).toEqual(['embedder', 'index', 'kafka', 'postgres', 'registry']);
  });
});

describe('fuzz (in-memory sink)', () => {
  it('1,000 malformed bodies: never a 5xx, always {error, message, details}, nothing produced', async () => {
    const bodyLimit = 256 * 1024;
    const t = await testApp({ bodyLimit, rateLimit: false });
    app = t.app;
    const kinds = new Map<string, number>();
    for (const r of fuzzRequests(1_000, 20240501, 500, bodyLimit)) {
      const res = await app.inject({
        method: 'POST',
        url: r.url,
        headers: { ...r.headers, 'x-api-key': WRITE_KEY },
        payload: r.payload,
      });
      expect(res.statusCode, `${r.kind}: ${String(r.payload).slice(0, 200)}`).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, `${r.kind}: ${res.body.slice(0, 300)}`).toBeLessThan(500);
      const body = res.json();
      expect(Object.keys(body).sort()).toEqual(['details', 'error', 'message']);
      const kind = r.kind.split(/[ @]/)[0]!;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    expect(t.sink.records).toHaveLength(0);
    expect(kinds.size).toBeGreaterThanOrEqual(10);
  });
});
