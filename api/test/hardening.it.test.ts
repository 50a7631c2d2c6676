import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka, loadConfig } from '@feedlog/common';
import { EmbeddedIndex } from '@feedlog/index';
import { migrate } from '@feedlog/migrations';
import { testSchema } from '@feedlog/test';
import type { FastifyInstance } from 'fastify';
import type { Admin } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { PgApiKeyStore } from '../src/auth.ts';
import { KafkaIngestSink } from '../src/plugins/kafka.ts';
import { serdeEncoder } from '../src/services.ts';
import { item, seedServingIndex } from './helpers.ts';

// Issue 12's defects that need the real PostgreSQL (and Kafka + registry for the duplicate batch).
const config = loadConfig();
const prefix = `it-harden-${Date.now().toString(36)}${randomBytes(3).toString('hex')}-`;
const topic = `${prefix}raw-headlines`;

describe('API hardening against real PostgreSQL, Kafka and the registry', () => {
  const kafka = createKafka(config, { clientId: 'feedlog-api-harden-it' });
  let admin: Admin;
  let pool: pg.Pool;
  let schema: string;
  let drop: () => Promise<void>;
  let app: FastifyInstance;
  const apps: FastifyInstance[] = [];
  const pools: pg.Pool[] = [];
  // search needs an embedder and a serving index: a fixed query vector and one indexed item
  const dir = mkdtempSync(join(tmpdir(), 'feedlog-harden-'));
  const index = new EmbeddedIndex({ dir });
  const embedder = { embed: async () => Float32Array.from([1, 0, 0, 0]), check: async () => undefined };

  const make = async (p: pg.Pool) => {
    const a = await buildApp({
      sink: new KafkaIngestSink(kafka, topic),
      encoder: serdeEncoder(config, prefix, true),
      pool: p,
      embedder,
      index,
      closeDependencies: false,
      rateLimit: false,
    });
    apps.push(a);
    return a;
  };

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    const s = await testSchema('harden');
    ({ pool, schema, drop } = s);
    await migrate(pool);
    await pool.query(
      `INSERT INTO generations (stage, generation, model_name, status, serving) VALUES ('embed', 1, 'fixed-test', 'serving', true)`,
    );
    await seedServingIndex(index, {
      title: 'Fed',
      url: 'https://example.com/fed',
      publishedAt: '2017-01-01T00:00:00Z',
    });
    app = await make(pool);
  });

  afterAll(async () => {
    for (const a of apps) await a.close();
    for (const p of pools) await p.end();
    await drop?.();
    await index.close();
    rmSync(dir, { recursive: true, force: true });
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await fetch(`${config.registry.url}/subjects/${topic}-value`, { method: 'DELETE' }).catch(() => undefined);
    await fetch(`${config.registry.url}/subjects/${topic}-value?permanent=true`, { method: 'DELETE' }).catch(
      () => undefined,
    );
    await admin.disconnect();
  });

  describe('values that passed validation and failed in PostgreSQL are now 400s', () => {
    const cases: [string, string][] = [
      ['offset beyond +15:59', '/v1/jobs?since=2024-01-01T00:00:00%2B16:00'],
      ['offset beyond -15:59', '/v1/stories?since=2024-01-01T00:00:00-23:59'],
      ['year 0000', '/v1/jobs?since=0000-01-01T00:00:00Z'],
      ['year 0000 in stories', '/v1/stories?since=0000-06-01T00:00:00Z'],
      ['NUL in caller', '/v1/jobs?caller=a%00b'],
      ['NUL in a job id', '/v1/jobs/a%00b'],
      ['NUL in a story id', '/v1/stories/s%00'],
      ['NUL in source (hybrid search)', '/v1/search?q=fed&mode=hybrid&source=%00'],
      ['NUL in story (hybrid search)', '/v1/search?q=fed&mode=hybrid&story=x%00'],
      ['leap second in vector mode', '/v1/search?q=fed&since=2016-12-31T23:59:60Z'],
      ['leap second in hybrid mode', '/v1/search?q=fed&mode=hybrid&until=2016-12-31T23:59:60Z'],
      ['year 0000 in search', '/v1/search?q=fed&mode=hybrid&since=0000-01-01T00:00:00Z'],
    ];
    for (const [what, url] of cases) {
      it(what, async () => {
        const r = await app.inject({ url });
        expect(r.statusCode, r.body).toBe(400);
        expect(r.json().error).toBe('invalid_request');
        expect(r.body).not.toMatch(/postgres|sqlstate|syntax|out of range/i);
      });
    }
    it('the extremes PostgreSQL accepts still pass', async () => {
      for (const since of ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2024-01-01T00:00:00+15:59']) {
        const r = await app.inject({ url: `/v1/jobs?since=${encodeURIComponent(since)}` });
        expect(r.statusCode, `${since}: ${r.body}`).toBe(200);
      }
    });
  });

  it('a batch that repeats an item produces it once, expects distinct items and names the repeats', async () => {
    const key = (await new PgApiKeyStore(pool).create('dup-writer', ['write'], 10_000)).key;
    const items = [item(1), item(2), item(1), item(1, { title: 'same id, new title' })];
    const r = await app.inject({ method: 'POST', url: '/v1/items', headers: { 'x-api-key': key }, payload: { items } });
    expect(r.statusCode, r.body).toBe(202);
    const body = r.json();
    expect(body.accepted).toBe(4);
    expect(body.distinct).toBe(2);
    expect(body.duplicates.map((d: { index: number; duplicate_of: number }) => [d.index, d.duplicate_of])).toEqual([
      [2, 0],
      [3, 0],
    ]);
    const job = await pool.query<{ expected_count: number; details: { duplicates: number } }>(
      'SELECT expected_count, details FROM jobs WHERE id = $1',
      [body.job_id],
    );
    expect(job.rows[0]).toMatchObject({ expected_count: 2, details: { duplicates: 2 } });
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.reduce((s, p) => s + Number(p.offset), 0)).toBe(2);
    // the job's caller is the key id, not its name
    const callers = await pool.query<{ caller: string }>('SELECT caller FROM jobs WHERE id = $1', [body.job_id]);
    expect(callers.rows[0]!.caller).not.toBe('dup-writer');
    expect(callers.rows[0]!.caller).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a revoked key stops working at once in every API instance (LISTEN/NOTIFY), not after a cache expiry', async () => {
    const store = new PgApiKeyStore(pool);
    const created = await store.create('revoke-me', ['read', 'write'], 10_000);
    // a second API instance with its own pool, as another process would have
    const other = new pg.Pool({ connectionString: config.postgres.url, options: `-c search_path=${schema}` });
    pools.push(other);
    const second = await make(other);
    const get = (a: FastifyInstance) =>
      a.inject({ url: '/v1/jobs?limit=1', headers: { 'x-api-key': created.key } }).then((x) => x.statusCode);
    expect([await get(app), await get(second)]).toEqual([200, 200]); // both now hold the key in their cache
    expect(await store.revoke(created.prefix)).toEqual({ id: created.id });
    const t0 = Date.now();
    let codes: number[] = [];
    while (Date.now() - t0 < 2_000) {
      codes = [await get(app), await get(second)];
      if (codes.every((c) => c === 401)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(codes).toEqual([401, 401]);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('rotate revokes the old key and gives a new one with the same scopes; list shows no secrets', async () => {
    const store = new PgApiKeyStore(pool);
    const created = await store.create('rotate-me', ['read'], 77);
    const rotated = await store.rotate(created.id);
    expect(rotated?.replaced).toBe(created.id);
    const listed = await store.list(true);
    const old = listed.find((k) => k.id === created.id)!;
    const fresh = listed.find((k) => k.id === rotated!.id)!;
    expect(old.revoked_at).not.toBeNull();
    expect(fresh).toMatchObject({ name: 'rotate-me', scopes: ['read'], rate_limit_per_minute: 77, revoked_at: null });
    expect(JSON.stringify(listed)).not.toContain(rotated!.key);
    const get = (k: string) => app.inject({ url: '/v1/jobs?limit=1', headers: { 'x-api-key': k } });
    expect((await get(rotated!.key)).statusCode).toBe(200);
    expect((await get(created.key)).statusCode).toBe(401);
  });
});
