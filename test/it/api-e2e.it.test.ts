// Issue 6, first "must be shown": end to end on the real stack. UCI headlines are pushed through
// POST /v1/items of the real API app (createServices → buildApp, listening on a port), flow through
// classify → cluster → embed (the running local embedder) → index (embedded index, a directory of
// this test's own) and the materializer (a PostgreSQL schema of this test's own), all on topics with
// a unique prefix. The test waits for every job GET /v1/jobs/:id reports, checks each job's per-stage
// counts equal its input for every stage, then searches GET /v1/search once per story with one of
// its headlines and scores recall@10 against the story's other headlines.
//
// Data: /work/shared/data/uci/stories-dev.csv (skipped with a message when absent). By default a
// deterministic subset (every 4th story by id, at most 900 headlines: 12 stories, 849 items) keeps
// the run near half a minute; E2E_ALL=1 pushes all 4,159 headlines of the 52 stories.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PgApiKeyStore } from '@feedlog/api';
import { loadConfig } from '@feedlog/common';
import { LocalEmbedder } from '@feedlog/embed/embedder-process';
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
  api,
  deletePrefixedSubjects,
  feedItem,
  loadUci,
  pickStories,
  type RunningPipeline,
  recallAt10,
  registerPrefixedSubjects,
  startApi,
  startPipeline,
  UCI_DEV,
  type UciRow,
} from './api-e2e-helpers.ts';

const MODEL = 'all-MiniLM-L6-v2-int8';
const STAGES = ['ingest', 'classify', 'cluster', 'embed', 'index'] as const;
const ALL = process.env.E2E_ALL === '1';
/** floors a little below what was measured: subset (12 stories) recall@10 0.973, hit@1 1.0; all 52 stories 0.905, 0.942 */
const RECALL_FLOOR = ALL ? 0.85 : 0.9;
const HIT1_FLOOR = ALL ? 0.88 : 0.9;

const config = loadConfig();
const registryUrl = harnessRegistryUrl();
const rows = loadUci();
// The one skip on the allow-list (test/src/skip-guard.ts): the data set lives outside the repo.
// Registry and embedder are never a reason: the harness provides the first, and without
// EMBEDDING_BASE_URL this test starts the local embedder itself.
if (!rows) console.warn(`\n[api-e2e] SKIPPED the whole-pipeline API test: ${UCI_DEV} is absent\n`);

interface Job {
  job_id: string;
  status: string;
  expected: number | null;
  stages: Record<(typeof STAGES)[number], number>;
  items: number;
  failures: { total: number; by_stage: Record<string, number> };
  stuck: { count: number };
  finished_at: string | null;
}
interface SearchAnswer {
  results: { rank: number; item: { item_id: string; title: string | null }; story: { story_id: string } | null }[];
}

describe.skipIf(!rows)('UCI headlines through the API and every stage, then search (issue 6)', () => {
  const kafka = testKafka('api-e2e');
  const prefix = uniquePrefix('apie2e');
  const indexDir = mkdtempSync(join(tmpdir(), 'feedlog-api-e2e-'));
  const input: UciRow[] = ALL ? (rows ?? []) : pickStories(rows ?? [], { every: 4, offset: 1, maxItems: 900 });
  let schema: Awaited<ReturnType<typeof testSchema>>;
  let pipeline: RunningPipeline | undefined;
  let app: FastifyInstance | undefined;
  let base = '';
  let key = '';
  const log = (s: string) => process.stderr.write(`[api-e2e] ${s}\n`);

  let embeddingBaseUrl = process.env.EMBEDDING_BASE_URL ?? '';
  let embedder: LocalEmbedder | undefined;

  beforeAll(async () => {
    const t0 = performance.now();
    if (!embeddingBaseUrl) {
      embedder = await LocalEmbedder.start({ models: [MODEL], log });
      embeddingBaseUrl = embedder.baseUrl;
    }
    schema = await testSchema('apie2e');
    await migrate(schema.pool);
    await applyPrefixedTopics(kafka, prefix);
    await registerPrefixedSubjects(prefix, registryUrl);
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
    key = (await new PgApiKeyStore(schema.pool).create('api-e2e', ['read', 'write'], 100_000)).key;
    log(`stack ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (prefix ${prefix}, schema ${schema.schema})`);
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await pipeline?.stop();
    await deletePrefixedTopics(kafka, prefix);
    await deletePrefixedSubjects(prefix, registryUrl);
    await schema?.drop();
    await embedder?.stop();
    rmSync(indexDir, { recursive: true, force: true });
  });

  it(
    'every job reaches every stage with all its items; a headline finds its story in the top 10',
    async () => {
      const stories = new Set(input.map((r) => r.story));
      log(`${input.length} headlines of ${stories.size} stories${ALL ? ' (E2E_ALL=1: all of them)' : ' (subset)'}`);
      expect(input.length).toBeGreaterThan(0);

      // push in batches of 500, as the SDK would
      const t0 = performance.now();
      const jobs = new Map<string, number>();
      const itemOf = new Map<string, string>(); // UCI id → item id
      for (let i = 0; i < input.length; i += 500) {
        const batch = input.slice(i, i + 500);
        const r = await api<{ job_id: string; items: { index: number; item_id: string }[] }>(base, '/v1/items', {
          method: 'POST',
          key,
          body: JSON.stringify({ items: batch.map(feedItem) }),
        });
        expect(r.items).toHaveLength(batch.length);
        jobs.set(r.job_id, batch.length);
        for (const it of r.items) itemOf.set((batch[it.index] as UciRow).id, it.item_id);
      }
      expect(new Set(itemOf.values()).size).toBe(input.length);

      // follow the jobs until each is done (every item indexed or failed) or the time runs out
      const deadline = Date.now() + (ALL ? 900_000 : 150_000);
      let seen: Job[] = [];
      for (;;) {
        seen = await Promise.all([...jobs.keys()].map((id) => api<Job>(base, `/v1/jobs/${id}`, { key })));
        const sum = (k: (typeof STAGES)[number]) => seen.reduce((s, j) => s + j.stages[k], 0);
        if (seen.every((j) => j.status === 'done')) break;
        if (Date.now() > deadline) {
          log(`jobs not done: ${JSON.stringify(seen)}`);
          break;
        }
        log(`${STAGES.map((k) => `${k} ${sum(k)}`).join(' → ')} of ${input.length}`);
        await sleep(2_000);
      }
      const seconds = (performance.now() - t0) / 1000;
      log(`pushed → every job done in ${seconds.toFixed(1)} s (${(input.length / seconds).toFixed(1)} items/s)`);

      for (const j of seen) {
        const n = jobs.get(j.job_id) as number;
        expect(j.status, j.job_id).toBe('done');
        expect(j.expected).toBe(n);
        expect(j.items).toBe(n);
        for (const k of STAGES) expect(j.stages[k], `${j.job_id} ${k}`).toBe(n);
        expect(j.failures.total).toBe(0);
        expect(j.stuck.count).toBe(0);
        expect(j.finished_at).not.toBeNull();
      }
      expect(pipeline?.deadLetters()).toBe(0);
      expect(pipeline?.materializerErrors).toEqual([]);
      expect(await pipeline?.index.count(1)).toBe(input.length);
      const tSearch = performance.now();

      // one query per story: its first headline in event time; relevant = the story's other headlines
      const byStory = new Map<string, UciRow[]>();
      for (const r of input) byStory.set(r.story, [...(byStory.get(r.story) ?? []), r]);
      const scores: { story: string; size: number; recall: number; hit1: boolean; query: string }[] = [];
      for (const [story, members] of byStory) {
        if (members.length < 2) continue;
        const q = members[0] as UciRow;
        const qid = itemOf.get(q.id) as string;
        const r = await api<SearchAnswer>(base, `/v1/search?q=${encodeURIComponent(q.title)}&limit=11`, { key });
        const ids = r.results.map((x) => x.item.item_id);
        const members_ = members.map((m) => itemOf.get(m.id) as string);
        const recall = recallAt10(ids, qid, members_);
        const first = ids.find((id) => id !== qid);
        scores.push({
          story,
          size: members.length,
          recall,
          hit1: first !== undefined && members_.includes(first),
          query: q.title,
        });
      }
      const searchMs = (performance.now() - tSearch) / scores.length;
      const recall = scores.reduce((s, x) => s + x.recall, 0) / scores.length;
      const hit1 = scores.filter((x) => x.hit1).length / scores.length;
      for (const s of scores.filter((x) => x.recall < 0.5))
        log(`low recall ${s.recall.toFixed(2)} (story of ${s.size}): "${s.query}"`);
      log(
        `search over ${input.length} indexed headlines, ${scores.length} stories: recall@10 ${recall.toFixed(3)}, hit@1 ${hit1.toFixed(3)} (${searchMs.toFixed(0)} ms per search)`,
      );
      expect(scores.length).toBe([...byStory.values()].filter((m) => m.length >= 2).length);
      expect(recall).toBeGreaterThanOrEqual(RECALL_FLOOR);
      expect(hit1).toBeGreaterThanOrEqual(HIT1_FLOOR);
    },
    ALL ? 1_200_000 : 180_000,
  );
});
