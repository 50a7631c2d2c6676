import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka, loadConfig } from '@feedlog/common';
import { EmbeddedIndex } from '@feedlog/index';
import { LagMonitor } from '@feedlog/lag';
import { migrate } from '@feedlog/migrations';
import { testSchema } from '@feedlog/test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { PgApiKeyStore } from '../src/auth.ts';
import { KafkaIngestSink } from '../src/plugins/kafka.ts';
import { serdeEncoder } from '../src/services.ts';
import { contractArbitrary, type OpenApiDoc, responseValidators } from './contract-fuzz.ts';
import { fuzzArbitrary } from './fuzz.ts';
import { item, seedServingIndex } from './helpers.ts';

// Property-based run over the OpenAPI document against buildApp with real PostgreSQL, Kafka and
// the registry: no request may answer 5xx, and every answer must match the schema documented for
// its status (an undocumented status is a mismatch too). Bounded: FUZZ_RUNS requests (default
// 1,500), well under a minute. FUZZ_SEED reproduces a run; the summary is printed.
const RUNS = Number(process.env.FUZZ_RUNS ?? 1_500);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const config = loadConfig();
const prefix = `it-fuzz-${Date.now().toString(36)}${randomBytes(3).toString('hex')}-`;
const topic = `${prefix}raw-headlines`;

describe('contract fuzz over the OpenAPI document', () => {
  const kafka = createKafka(config, { clientId: 'feedlog-api-fuzz' });
  let admin: Admin;
  let pool: pg.Pool;
  let drop: () => Promise<void>;
  let app: FastifyInstance;
  let key: string;
  const dir = mkdtempSync(join(tmpdir(), 'feedlog-fuzz-'));
  const index = new EmbeddedIndex({ dir });

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    ({ pool, drop } = await testSchema('fuzz'));
    await migrate(pool);
    key = (await new PgApiKeyStore(pool).create('fuzzer', ['read', 'write'], 1_000_000)).key;
    await pool.query(
      `INSERT INTO generations (stage, generation, model_name, status, serving) VALUES ('embed', 1, 'fixed', 'serving', true)`,
    );
    await pool.query(
      `INSERT INTO jobs (id, kind, caller, expected_count) VALUES ('job-1', 'ingest', 'k', 1);
       INSERT INTO items (item_id, job_id, source, url, title, published_at, ingested_at, category, story_id)
       VALUES ('i1', 'job-1', 'reuters', 'https://example.com/1', 'Fed holds rates', '2024-01-01Z', now(), 'b', 's1');
       REFRESH MATERIALIZED VIEW job_progress; REFRESH MATERIALIZED VIEW story_summary;`,
    );
    await seedServingIndex(index, {
      title: 'Fed holds rates',
      url: 'https://example.com/1',
      publishedAt: '2024-01-01T00:00:00Z',
    });
    app = await buildApp({
      sink: new KafkaIngestSink(kafka, topic),
      encoder: serdeEncoder(config, prefix, true),
      pool,
      embedder: { embed: async () => Float32Array.from([1, 0, 0, 0]), check: async () => undefined },
      index,
      closeDependencies: false,
      maxBatch: 20,
      bodyLimit: 256 * 1024,
      rateLimit: { anonymousPerMinute: 1_000_000 },
      health: { required: [] },
      // a real monitor (this run's groups only, so a sample stays cheap): /v1/lag answers, not 503
      lag: new LagMonitor({ kafka, pool, groups: (g) => g.startsWith(prefix), intervalMs: 1_000 }),
    });
  });

  afterAll(async () => {
    await app?.close();
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

  // The dashboard's server-sent event stream never ends by design: an inject would wait forever.
  // Its refusal past maxClients is covered by the dashboard tests.
  const STREAM = '/v1/events';

  it(`${RUNS} generated requests: no 5xx, every answer matches its documented schema`, async () => {
    const doc = (await app.inject({ url: '/docs/json' })).json() as OpenApiDoc;
    const validator = responseValidators(doc);
    // bodies: valid batches and the malformed ones of fuzz.ts (as text)
    const bodies = fc.oneof(
      fc
        .array(
          fc.nat(1_000).map((i) => item(i)),
          { minLength: 1, maxLength: 5 },
        )
        .map((items) => ({ items })),
      fuzzArbitrary(20, 256 * 1024).map((r) => r.payload.toString()),
    );
    const keys = fc.constantFrom<Record<string, string>>(
      {},
      { 'x-api-key': key },
      { 'x-api-key': key },
      { 'x-api-key': 'fl_wrong' },
    );
    const requests = fc.sample(
      contractArbitrary(doc, { bodies, keys, skip: (p) => p === '/metrics' || p === STREAM }),
      {
        numRuns: RUNS,
        seed: SEED,
      },
    );
    const statuses = new Map<number, number>();
    const serverErrors: string[] = [];
    const mismatches: string[] = [];
    const t0 = performance.now();
    for (const req of requests) {
      const r = await app.inject({ method: req.method, url: req.url, headers: req.headers, payload: req.payload });
      statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
      if (r.statusCode >= 500) serverErrors.push(`${req.method} ${req.url} → ${r.statusCode} ${r.body.slice(0, 200)}`);
      const v = validator(req, r.statusCode);
      if (v === 'undocumented') mismatches.push(`${req.method} ${req.url} → ${r.statusCode} is not documented`);
      else if (v !== 'not-json') {
        let body: unknown;
        try {
          body = r.json();
        } catch {
          mismatches.push(`${req.method} ${req.url} → ${r.statusCode}: not JSON`);
          continue;
        }
        if (!v(body))
          mismatches.push(`${req.method} ${req.url} → ${r.statusCode}: ${JSON.stringify(v.errors?.slice(0, 2))}`);
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const summary = {
      seed: SEED,
      requests: requests.length,
      seconds: Math.round(seconds * 10) / 10,
      server_errors: serverErrors.length,
      schema_mismatches: mismatches.length,
      statuses: Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])),
    };
    console.log(`[contract fuzz] ${JSON.stringify(summary)}`);
    expect(serverErrors.slice(0, 10)).toEqual([]);
    expect(mismatches.slice(0, 10)).toEqual([]);
    expect(seconds).toBeLessThan(60);
  });
});
