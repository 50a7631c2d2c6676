import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRegistryApp } from '../src/app.ts';
import { call, databaseUrl, dropPgSchema, record, uniquePgSchema, V1 } from './helpers.ts';

// Issue 12, registry: client input errors are Confluent 4xx codes (never 500 with PostgreSQL's
// message), schemas are bounded in size and nesting, writes can require credentials.
const pgSchema = uniquePgSchema('reg_harden');
let app: FastifyInstance;
let authed: FastifyInstance;
let pool: pg.Pool;
const schema = record('Base', [{ name: 'id', type: 'string' }]);

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: databaseUrl(), max: 5 });
  app = await buildRegistryApp({ pool, pgSchema, maxSchemaBytes: 64 * 1024 });
  authed = await buildRegistryApp({
    pool,
    pgSchema,
    migrate: false,
    auth: { users: { writer: 's3cret' }, tokens: ['tok-123'] },
  });
  expect((await call(app, 'POST', '/subjects/base-value/versions', { schema })).status).toBe(200);
});

afterAll(async () => {
  await app?.close();
  await authed?.close();
  await pool?.end();
  await dropPgSchema(pgSchema);
});

const ref = (version: unknown) => ({
  schema: record('Uses', [{ name: 'b', type: 'feedlog.test.Base' }]),
  references: [{ name: 'feedlog.test.Base', subject: 'base-value', version }],
});

describe('client input errors are 4xx Confluent errors', () => {
  // raw JSON numbers as a client would send them (1e400 is Infinity once parsed)
  for (const version of ['99999999999', '1.5', '"1e400"', '1e400', '-5', '0']) {
    it(`reference version ${version}`, async () => {
      const body = JSON.stringify(ref(1)).replace('"version":1', `"version":${version}`);
      const r = await call(app, 'POST', '/subjects/uses-value/versions', body);
      expect(r.status, r.text).toBe(422);
      expect(r.json.error_code).toBe(42201);
      expect(r.text).not.toMatch(/out of range|invalid input syntax|postgres/i);
    });
  }
  it('a subjectPrefix with a NUL', async () => {
    const r = await call(app, 'GET', '/subjects?subjectPrefix=a%00b');
    expect(r.status, r.text).toBeLessThan(500);
    expect(r.json.error_code).toBe(42208);
    expect(r.text).not.toMatch(/0x00|invalid byte sequence/i);
  });
});

describe('schema bounds', () => {
  it('a schema larger than the limit is refused 42201 naming the limit', async () => {
    const big = record('Big', [{ name: 'id', type: 'string', doc: 'x'.repeat(70 * 1024) }]);
    const r = await call(app, 'POST', '/subjects/big-value/versions', { schema: big });
    expect(r.status, r.text).toBe(422);
    expect(r.json).toMatchObject({ error_code: 42201 });
    expect(r.json.message).toMatch(/65536 bytes/);
  });
  it('a schema nested 5,000 deep is refused 42201, not "Maximum call stack"', async () => {
    const d = 5_000;
    // unions of unions: 10 kB of text, 5,000 levels for avsc and the canonical form to recurse into
    const deep = `${'['.repeat(d)}"string"${']'.repeat(d)}`;
    const r = await call(app, 'POST', '/subjects/deep-value/versions', { schema: deep });
    expect(r.status, r.text).toBe(422);
    expect(r.json.error_code).toBe(42201);
    expect(r.text).not.toMatch(/call stack/i);
    expect(r.json.message).toMatch(/nested deeper than/);
  });
});

describe('write auth (basic or bearer, as Confluent clients send)', () => {
  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
  const post = (authorization?: string) =>
    authed.inject({
      method: 'POST',
      url: '/subjects/auth-value/versions',
      headers: { 'content-type': V1, ...(authorization ? { authorization } : {}) },
      payload: JSON.stringify({ schema: record('Auth', [{ name: 'id', type: 'string' }]) }),
    });
  it('refuses writes without or with wrong credentials (401 40101), accepts basic and bearer', async () => {
    const none = await post();
    expect(none.statusCode).toBe(401);
    expect(none.json().error_code).toBe(40101);
    expect(none.headers['www-authenticate']).toMatch(/Basic/);
    expect((await post(basic('writer', 'nope'))).statusCode).toBe(401);
    expect((await post('Bearer wrong')).statusCode).toBe(401);
    expect((await post(basic('writer', 's3cret'))).statusCode).toBe(200);
    expect((await post('Bearer tok-123')).statusCode).toBe(200);
  });
  it('reads stay open', async () => {
    expect((await authed.inject({ url: '/subjects' })).statusCode).toBe(200);
    expect((await authed.inject({ url: '/subjects/auth-value/versions/latest' })).statusCode).toBe(200);
  });
});
