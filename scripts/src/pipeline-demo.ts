import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type FeedlogConfig, repoRoot } from '@feedlog/common';
import { parse } from 'csv-parse/sync';
import pg from 'pg';
import type { Log } from './stack.ts';

interface DemoItem {
  source: string;
  url: string;
  title: string;
  guid: string;
  published_at?: string;
  summary?: string;
  /** ground truth for the demo's search check: same-story items (UCI) */
  story: string;
  /** a paraphrase to search with (the bundled fixture) */
  query?: string;
}

export interface PipelineDemoResult {
  dataset: string;
  items: number;
  accepted: number;
  jobs: number;
  perStage: Record<string, number>;
  failures: number;
  pipelineSeconds: number;
  itemsPerSecond: number;
  searches: number;
  recallAt10: number;
  hitAt1: number;
}

/** UCI headlines from ../shared when present; otherwise the project's own hand-written fixture. */
function loadDemoItems(limit: number | undefined): { dataset: string; items: DemoItem[] } {
  const uci = join(repoRoot(), '..', 'shared', 'data', 'uci', 'stories-dev.csv');
  if (existsSync(uci)) {
    const rows = parse(readFileSync(uci), { columns: true, relax_quotes: true, skip_empty_lines: true }) as Record<
      string,
      string
    >[];
    const items = rows.map((r) => ({
      source: r.HOSTNAME || r.PUBLISHER || 'unknown',
      url: r.URL ?? '',
      title: r.TITLE ?? '',
      guid: `uci:${r.ID}`,
      published_at: new Date(Number(r.TIMESTAMP)).toISOString(),
      story: r.STORY ?? '',
    }));
    return { dataset: '../shared/data/uci/stories-dev.csv', items: limit ? items.slice(0, limit) : items };
  }
  const fixture = join(repoRoot(), 'processors/embed/fixtures/paraphrases.json');
  const { pairs } = JSON.parse(readFileSync(fixture, 'utf8')) as {
    pairs: { title: string; summary: string | null; paraphrase: string }[];
  };
  const items = pairs.map((p, i) => ({
    source: 'feedlog-fixture',
    url: `https://example.org/fixture/${i}`,
    title: p.title,
    guid: `fixture:${i}`,
    ...(p.summary ? { summary: p.summary } : {}),
    story: `fixture-${i}`,
    query: p.paraphrase,
  }));
  return { dataset: 'processors/embed/fixtures/paraphrases.json (bundled)', items };
}

async function api<T>(base: string, key: string, path: string, init?: RequestInit): Promise<T> {
  const headers = { ...(init?.headers as Record<string, string>), 'x-api-key': key };
  const r = await fetch(base + path, { ...init, headers, signal: AbortSignal.timeout(30_000) });
  const body = (await r.json()) as T & { message?: string };
  if (!r.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${r.status} ${body.message ?? ''}`);
  return body;
}

interface Job {
  status: string;
  items: number;
  stages: Record<string, number>;
  failures: { total: number };
  done_ratio: number;
}

/**
 * The main job: push real headlines through POST /v1/items, follow the jobs through every stage,
 * then search for each story with one of its headlines (or a paraphrase) and score the answers.
 */
export async function runPipelineDemo(
  config: FeedlogConfig,
  log: Log,
  opts: { limit?: number; timeoutMs?: number } = {},
): Promise<PipelineDemoResult> {
  const base = `http://127.0.0.1:${config.api.port}`;
  const { dataset, items } = loadDemoItems(opts.limit);
  log(`demo data: ${items.length} headlines from ${dataset}`);

  const { PgApiKeyStore } = await import('@feedlog/api/auth');
  const pool = new pg.Pool({ connectionString: config.postgres.url, max: 1 });
  const { key } = await new PgApiKeyStore(pool).create('feedlog-demo', ['read', 'write'], 100_000);
  await pool.end();

  const t0 = performance.now();
  const storyOf = new Map<string, string>();
  const jobIds = new Set<string>();
  let accepted = 0;
  for (let i = 0; i < items.length; i += 500) {
    const batch = items.slice(i, i + 500);
    const r = await api<{ job_id: string; items: { index: number; item_id: string }[] }>(base, key, '/v1/items', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: batch.map(({ story: _s, query: _q, ...item }) => item) }),
    });
    jobIds.add(r.job_id);
    for (const it of r.items) storyOf.set(it.item_id, batch[it.index]?.story ?? '');
    accepted += r.items.length;
    log(`pushed ${Math.min(items.length, i + 500)}/${items.length} (job ${r.job_id})`);
  }

  const deadline = Date.now() + (opts.timeoutMs ?? 15 * 60_000);
  let jobs: Job[] = [];
  for (;;) {
    jobs = await Promise.all([...jobIds].map((id) => api<Job>(base, key, `/v1/jobs/${id}`)));
    const sum = (k: string) => jobs.reduce((s, j) => s + (j.stages[k] ?? 0), 0);
    const failures = jobs.reduce((s, j) => s + j.failures.total, 0);
    log(
      `pipeline: ingest ${sum('ingest')} → classify ${sum('classify')} → cluster ${sum('cluster')} → embed ${sum('embed')} → index ${sum('index')} of ${accepted}${failures ? `, ${failures} failed` : ''}`,
    );
    if (sum('index') + failures >= accepted) break;
    if (Date.now() > deadline)
      throw new Error(`the pipeline did not finish within ${(opts.timeoutMs ?? 900_000) / 1000} s`);
    await sleep(2_000);
  }
  const pipelineSeconds = (performance.now() - t0) / 1000;
  const perStage: Record<string, number> = {};
  for (const k of ['ingest', 'classify', 'cluster', 'embed', 'index']) {
    perStage[k] = jobs.reduce((s, j) => s + (j.stages[k] ?? 0), 0);
  }

  // One query per story: its first headline (UCI) or the paraphrase (fixture). Recall@10 counts the
  // story's other headlines found in the top 10 (out of at most 10); hit@1 asks whether the best
  // answer belongs to the story.
  const byStory = new Map<string, string[]>();
  for (const [id, story] of storyOf) byStory.set(story, [...(byStory.get(story) ?? []), id]);
  let recallSum = 0;
  let hits = 0;
  let searches = 0;
  for (const [story, ids] of byStory) {
    const first = items.find((it) => it.story === story);
    if (!first) continue;
    const q = first.query ?? first.title;
    const r = await api<{ results: { item: { item_id: string; title: string | null } }[] }>(
      base,
      key,
      `/v1/search?q=${encodeURIComponent(q)}&limit=11`,
    );
    const queryId = first.query ? undefined : [...storyOf].find(([, s]) => s === story)?.[0];
    const got = r.results
      .map((x) => x.item.item_id)
      .filter((id) => id !== queryId)
      .slice(0, 10);
    const relevant = new Set(ids.filter((id) => id !== queryId));
    if (relevant.size === 0) continue;
    recallSum += got.filter((id) => relevant.has(id)).length / Math.min(10, relevant.size);
    if (got[0] && relevant.has(got[0])) hits++;
    searches++;
    if (searches <= 3) {
      log(
        `search "${q.slice(0, 70)}" → ${r.results
          .slice(0, 3)
          .map((x) => `"${(x.item.title ?? '').slice(0, 50)}"`)
          .join(' | ')}`,
      );
    }
  }
  return {
    dataset,
    items: items.length,
    accepted,
    jobs: jobIds.size,
    perStage,
    failures: jobs.reduce((s, j) => s + j.failures.total, 0),
    pipelineSeconds: Number(pipelineSeconds.toFixed(1)),
    itemsPerSecond: Number((accepted / pipelineSeconds).toFixed(1)),
    searches,
    recallAt10: Number((recallSum / Math.max(1, searches)).toFixed(3)),
    hitAt1: Number((hits / Math.max(1, searches)).toFixed(3)),
  };
}
