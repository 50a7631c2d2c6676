import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryApiKeyStore } from '../src/auth.ts';
import { item, READ_KEY, testApp, WRITE_KEY } from './helpers.ts';

// One test per defect of issue 12 that needs no PostgreSQL (the rest: hardening.it.test.ts).
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe('hostile bodies', () => {
  it('a request to an unknown route is answered 404 without its body being read or parsed', async () => {
    ({ app } = await testApp());
    const r = await app.inject({
      method: 'POST',
      url: '/nope',
      headers: { 'content-type': 'application/json' },
      payload: '{"not json',
    });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ error: 'not_found' });
  });

  it('a body nested deeper than the limit is refused as invalid_json before JSON.parse', async () => {
    ({ app } = await testApp());
    const d = 100;
    const r = await app.inject({
      method: 'POST',
      url: '/v1/items',
      headers: { 'content-type': 'application/json', 'x-api-key': WRITE_KEY },
      payload: `{"items":[${'['.repeat(d)}${']'.repeat(d)}]}`,
    });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: 'invalid_json' });
    expect(r.json().message).toMatch(/nested deeper than/);
  });

  it('a flat body with more values than any valid batch is refused before JSON.parse', async () => {
    ({ app } = await testApp());
    const r = await app.inject({
      method: 'POST',
      url: '/v1/items',
      headers: { 'content-type': 'application/json', 'x-api-key': WRITE_KEY },
      payload: `{"items":[${'1,'.repeat(50_000)}1]}`,
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toMatch(/more than 20000 values/);
  });

  it('/healthz keeps answering quickly while 8 MiB deeply nested arrays are posted', async () => {
    // bodies of 8 MiB allowed, so they are read whole and reach the parser (the default is 2 MiB)
    ({ app } = await testApp({ rateLimit: false, bodyLimit: 8 * 1024 * 1024 }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    const depth = 4 * 1024 * 1024;
    const hostile = Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`);
    const send = (path: string, body?: Buffer, key?: string) =>
      new Promise<number>((resolve) => {
        const t0 = performance.now();
        const req = request(
          {
            port,
            host: '127.0.0.1',
            path,
            method: body ? 'POST' : 'GET',
            headers: body
              ? {
                  'content-type': 'application/json',
                  'content-length': body.length,
                  ...(key ? { 'x-api-key': key } : {}),
                }
              : {},
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(performance.now() - t0));
          },
        );
        req.on('error', () => resolve(performance.now() - t0));
        req.end(body);
      });
    const latencies: number[] = [];
    let done = false;
    const probe = (async () => {
      while (!done) {
        latencies.push(await send('/healthz'));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await Promise.all([send('/nope', hostile), send('/v1/items', hostile, WRITE_KEY), send('/v1/items', hostile)]);
    done = true;
    await probe;
    expect(latencies.length).toBeGreaterThan(0);
    // before the fix one such body held the event loop for ~3 s; a scan costs tens of ms
    expect(Math.max(...latencies)).toBeLessThan(750);
  });
});

describe('rate limit on every request', () => {
  const limited = async () => (await testApp({ rateLimit: { anonymousPerMinute: 3 } })).app;
  const codes = async (a: FastifyInstance, url: string, headers: Record<string, string> = {}) => {
    const out: number[] = [];
    for (let i = 0; i < 5; i++) out.push((await a.inject({ url, headers })).statusCode);
    return out;
  };
  it('404s count', async () => {
    app = await limited();
    expect(await codes(app, '/nope')).toEqual([404, 404, 404, 429, 429]);
  });
  it('401s (unknown keys) count against the caller address', async () => {
    app = await limited();
    const out: number[] = [];
    for (let i = 0; i < 5; i++)
      out.push((await app.inject({ url: '/v1/jobs', headers: { 'x-api-key': `fl_wrong_${i}` } })).statusCode);
    expect(out).toEqual([401, 401, 401, 429, 429]);
  });
  it('/readyz and /metrics count; /healthz (liveness) does not', async () => {
    app = await limited();
    expect((await codes(app, '/readyz')).slice(3)).toEqual([429, 429]);
    expect(await codes(app, '/healthz')).toEqual([200, 200, 200, 200, 200]);
  });
  it('a 429 answer has the API error shape and Retry-After', async () => {
    app = await limited();
    await codes(app, '/metrics');
    const r = await app.inject({ url: '/metrics' });
    expect(r.statusCode).toBe(429);
    expect(r.headers['retry-after']).toBeDefined();
    expect(Object.keys(r.json()).sort()).toEqual(['details', 'error', 'message']);
  });
});

describe('headers', () => {
  it('API answers carry nosniff, frame-ancestors none and Cache-Control: no-store', async () => {
    ({ app } = await testApp());
    const r = await app.inject({ url: '/healthz' });
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(String(r.headers['content-security-policy'])).toContain("frame-ancestors 'none'");
    expect(r.headers['cache-control']).toBe('no-store');
  });
  it('/docs has a CSP that lets Swagger UI run from its own origin only', async () => {
    ({ app } = await testApp());
    const r = await app.inject({ url: '/docs' });
    expect(r.statusCode).toBe(200);
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
  });
});

describe('error shape for 414 and 431', () => {
  const raw = (port: number, path: string, headers: Record<string, string>) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ port, host: '127.0.0.1', path, headers }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  it('a too-long URL parameter answers 414 {error, message, details}', async () => {
    ({ app } = await testApp());
    const r = await app.inject({ url: `/v1/jobs/${'a'.repeat(300)}`, headers: { 'x-api-key': READ_KEY } });
    expect(r.statusCode).toBe(414);
    expect(r.json()).toMatchObject({ error: 'uri_too_long', details: null });
  });
  it('headers over the size limit answer 431 {error, message, details}', async () => {
    ({ app } = await testApp());
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    const r = await raw(port, '/healthz', { 'x-big': 'x'.repeat(40_000) });
    expect(r.status).toBe(431);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'headers_too_large', details: null });
  });
});

describe('the read scope', () => {
  it('with publicReads false, reads need a key with the read scope; write-only keys are refused', async () => {
    const apiKeys = new MemoryApiKeyStore()
      .add(WRITE_KEY, { name: 'writer', scopes: ['write'], rateLimitPerMinute: 10_000 })
      .add(READ_KEY, { name: 'reader', scopes: ['read'], rateLimitPerMinute: 10_000 });
    ({ app } = await testApp({ apiKeys, publicReads: false }));
    expect((await app.inject({ url: '/v1/stories' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/stories', headers: { 'x-api-key': WRITE_KEY } })).statusCode).toBe(403);
    // a read key passes auth (503: no PostgreSQL in unit tests)
    expect((await app.inject({ url: '/v1/stories', headers: { 'x-api-key': READ_KEY } })).statusCode).toBe(503);
    // health stays open
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });
  it('by default (public reads) GET /v1/* needs no key', async () => {
    ({ app } = await testApp());
    expect((await app.inject({ url: '/v1/stories' })).statusCode).toBe(503);
  });
});

describe('metric labels', () => {
  it('the caller label is the key id, never its name', async () => {
    const apiKeys = new MemoryApiKeyStore().add(WRITE_KEY, {
      id: 'k-123',
      name: 'secret-partner-name',
      scopes: ['write'],
      rateLimitPerMinute: 10_000,
    });
    ({ app } = await testApp({ apiKeys }));
    const r = await app.inject({
      method: 'POST',
      url: '/v1/items',
      headers: { 'x-api-key': WRITE_KEY },
      payload: { items: [item(1)] },
    });
    expect(r.statusCode).toBe(202);
    const m = (await app.inject({ url: '/metrics' })).body;
    expect(m).not.toContain('secret-partner-name');
    expect(m).toContain('caller="k-123"');
  });
});

describe('OpenAPI contract', () => {
  it('defaulted query parameters are optional; read routes document 401 and 429; /readyz documents 503', async () => {
    ({ app } = await testApp());
    const doc = (await app.inject({ url: '/docs/json' })).json();
    for (const path of ['/v1/jobs', '/v1/stories', '/v1/search']) {
      const params = doc.paths[path].get.parameters as { name: string; required?: boolean }[];
      for (const name of ['limit', 'offset']) expect(params.find((p) => p.name === name)?.required).toBeFalsy();
      expect(Object.keys(doc.paths[path].get.responses)).toEqual(expect.arrayContaining(['401', '429']));
    }
    const partial = (doc.paths['/v1/items'].post.parameters as { name: string; required?: boolean }[]).find(
      (p) => p.name === 'partial',
    );
    expect(partial?.required).toBeFalsy();
    expect(Object.keys(doc.paths['/readyz'].get.responses)).toEqual(expect.arrayContaining(['200', '503']));
  });
});
