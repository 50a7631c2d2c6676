// Issue 15: `feedlog bench e2e` at quick scale, against a real pipeline: classify → cluster →
// embed (the bench's stub embedder, in this process) → index and the materializer on prefixed
// topics and a PostgreSQL schema of this test's own, the API app on top (as api-e2e does). The
// bench's own runE2E drives it; the test checks the result's numbers are sane and that every
// pushed item arrived exactly once.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgApiKeyStore } from '@feedlog/api';
import { loadHeadlines } from '@feedlog/bench/e2e/headlines';
import { writeReport } from '@feedlog/bench/e2e/report';
import { type E2EResult, runE2E } from '@feedlog/bench/e2e/run';
import { startStubEmbedder } from '@feedlog/bench/e2e/stub-embedder';
import { loadConfig } from '@feedlog/common';
import { migrate } from '@feedlog/migrations';
import {
  applyPrefixedTopics,
  deletePrefixedTopics,
  registryUrl as harnessRegistryUrl,
  testKafka,
  testSchema,
  uniquePrefix,
} from '@feedlog/test';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deletePrefixedSubjects,
  prefixedStageName,
  type RunningPipeline,
  registerPrefixedSubjects,
  startApi,
  startPipeline,
} from './api-e2e-helpers.ts';

const MODEL = 'all-MiniLM-L6-v2-int8';
const RECORDS = 600;

describe('feedlog bench e2e at quick scale (issue 15)', () => {
  const config = loadConfig();
  const registryUrl = harnessRegistryUrl();
  const kafka = testKafka('bench-e2e');
  const prefix = uniquePrefix('benche2e');
  const dir = mkdtempSync(join(tmpdir(), 'feedlog-bench-e2e-'));
  const log = (s: string) => process.stderr.write(`[bench-e2e] ${s}\n`);
  let schema: Awaited<ReturnType<typeof testSchema>>;
  let pipeline: RunningPipeline | undefined;
  let app: FastifyInstance | undefined;
  let stub: Server | undefined;
  let base = '';
  let key = '';
  let embeddingBaseUrl = '';

  beforeAll(async () => {
    stub = await startStubEmbedder(0);
    embeddingBaseUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}/v1`;
    schema = await testSchema('benche2e');
    await migrate(schema.pool);
    await applyPrefixedTopics(kafka, prefix);
    await registerPrefixedSubjects(prefix, registryUrl);
    const indexDir = join(dir, 'index');
    pipeline = await startPipeline({
      kafka,
      prefix,
      registryUrl,
      embeddingBaseUrl,
      embeddingModel: MODEL,
      pool: schema.pool,
      indexDir,
      log,
    });
    ({ app, base } = await startApi(config, {
      prefix,
      schema: schema.schema,
      indexDir,
      embeddingBaseUrl,
      embeddingModel: MODEL,
    }));
    key = (await new PgApiKeyStore(schema.pool).create('bench-e2e', ['read', 'write'], 1_000_000)).key;
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await pipeline?.stop();
    await deletePrefixedTopics(kafka, prefix);
    await deletePrefixedSubjects(prefix, registryUrl);
    await schema?.drop();
    await new Promise((r) => stub?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('every pushed item becomes searchable once; rates, latency, lag and baselines are sane numbers', async () => {
    const groupPrefix = `feedlog.${prefixedStageName(prefix, '')}`;
    const r: E2EResult = await runE2E(
      {
        records: RECORDS,
        batch: 200,
        concurrency: 2,
        brokerBaselineRecords: 5_000,
        embedderBaselineTexts: 1_000,
        stallMs: 60_000,
      },
      {
        cfg: config,
        baseUrl: base,
        apiKey: key,
        pool: schema.pool,
        set: loadHeadlines(),
        lagGroups: (g) => g.startsWith(groupPrefix) || g.startsWith(prefixedStageName(prefix, '')),
        pids: { test: process.pid },
        embedder: { baseUrl: embeddingBaseUrl, model: MODEL, kind: 'stub' },
        partitions: 3,
        log,
      },
    );
    const files = writeReport(r, join(dir, 'out'), 'bench-e2e.it.test.ts');
    log(`${r.searchable.items}/${r.push.accepted} searchable, e2e ${r.searchable.itemsPerSec}/s, ${files.md}`);

    expect(r.push.accepted).toBe(RECORDS);
    expect(r.searchable.items).toBe(RECORDS);
    expect(r.searchable.lost).toBe(0);
    expect(r.searchable.duplicates).toBe(0);
    for (const s of ['ingest', 'classify', 'cluster', 'embed', 'index'] as const) {
      expect(r.stages[s].items, s).toBe(RECORDS);
      expect(r.stages[s].recordsPerSec, s).toBeGreaterThan(0);
    }
    const l = r.latencySeconds;
    expect(l.p50).toBeGreaterThan(0);
    expect(l.p50).toBeLessThanOrEqual(l.p95);
    expect(l.p95).toBeLessThanOrEqual(l.p99);
    expect(l.p99).toBeLessThanOrEqual(l.max);
    // nothing can be searchable later than the run took
    expect(l.max).toBeLessThanOrEqual(r.searchable.seconds + 1);
    expect(r.searchable.itemsPerSec).toBeGreaterThan(0);
    expect(r.timeline.index.reduce((a, b) => a + b, 0)).toBe(RECORDS);
    expect(r.lag.points.length).toBeGreaterThan(0);
    expect(Object.keys(r.lag.points.at(-1)?.lag ?? {}).length).toBeGreaterThanOrEqual(4);
    expect(r.processes.test?.cpuSeconds).toBeGreaterThan(0);
    expect(r.processes.test?.rssMaxMiB).toBeGreaterThan(10);
    expect(r.baselines.broker?.produceRecordsPerSec).toBeGreaterThan(0);
    expect(r.baselines.broker?.consumeRecordsPerSec).toBeGreaterThan(0);
    expect(r.baselines.embedder?.textsPerSec).toBeGreaterThan(0);
    expect(r.ratios.e2eVsBrokerProduce).toBeGreaterThan(0);
  });
});
