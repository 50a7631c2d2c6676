// The model-swap scenario of issue 9, on either index backend (model-swap.it.test.ts: embedded,
// model-swap-qdrant.it.test.ts: a real Qdrant server): a few hundred headlines indexed with
// model A (all-MiniLM-L6-v2-int8), then POST /v1/replays {stage: embed, model: B
// (paraphrase-MiniLM-L3-v2)} while a load generator searches without pause. Every search answers
// with results; every answer completed before the flip was scored by model A's generation, every
// one after it by B's, and no answer goes back to A once one from B was seen (the `model` +
// `generation` fields); the new collection holds the same items with the vectors a from-scratch
// embedding with model B gives (within 1e-5).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddingClient, embeddingSettings, embeddingText } from '@feedlog/embed';
import { waitFor } from '@feedlog/test';
import { expect } from 'vitest';
import { stageNameFor } from '../src/types.ts';
import {
  api,
  embeddingBaseUrl,
  type FeedItem,
  ingest,
  MODEL_A,
  MODEL_B,
  type ReplayBody,
  type ReplayStack,
  waitReplay,
} from './replay-helpers.ts';

/** concurrent searching clients: the embedder batches concurrent queries, so more clients, more searches/s */
const CLIENTS = 16;

interface Answer {
  start: number;
  end: number;
  status: number;
  results: number;
  model: string | null;
  generation: number | null;
}

/**
 * `workers` clients searching back to back until stopped (a closed loop: the load follows the
 * server, so a slow shared embedder shows up as a lower rate, not as requests piling up).
 */
export function loadGenerator(base: string, queries: string[], workers: number) {
  const answers: Answer[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = w; running; i += workers) {
      const start = Date.now();
      try {
        const q = queries[i % queries.length] as string;
        const r = await fetch(`${base}/v1/search?q=${encodeURIComponent(q)}&limit=5`, {
          signal: AbortSignal.timeout(30_000),
        });
        const b = (await r.json()) as { results?: unknown[]; model?: string; generation?: number | null };
        answers.push({
          start,
          end: Date.now(),
          status: r.status,
          results: b.results?.length ?? 0,
          model: b.model ?? null,
          generation: b.generation ?? null,
        });
      } catch {
        answers.push({ start, end: Date.now(), status: 0, results: 0, model: null, generation: null });
      }
    }
  });
  return {
    answers,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/**
 * Runs the scenario on a started stack. `storedVectors(gen)`: every point of that generation's
 * collection, item id → vector, read back from the backend itself.
 */
export async function modelSwapScenario(
  s: ReplayStack,
  items: FeedItem[],
  storedVectors: (gen: number) => Promise<Map<string, ArrayLike<number>>>,
): Promise<void> {
  const t0 = Date.now();
  const ids = await ingest(s, items);
  s.log(`${ids.length} items indexed with ${MODEL_A} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const load = loadGenerator(
    s.base,
    items.map((i) => i.title),
    CLIENTS,
  );
  await new Promise((r) => setTimeout(r, 1_500));
  const started = await api<ReplayBody>(s.base, '/v1/replays', {
    method: 'POST',
    key: s.adminKey,
    body: JSON.stringify({ stage: 'embed', model: MODEL_B }),
  });
  expect(started.stages).toEqual(['embed', 'index']);
  expect(started.generation).toBe(2);
  const done = await waitReplay(s, started.id, (r) => r.status === 'serving' || r.status === 'aborted');
  expect(done.status).toBe('serving');
  // the new generation's processes then run as the stages (the launcher's PID file names). The
  // replay reads `serving` once the flip committed in PostgreSQL; the alias flip and this adoption
  // follow it (ReplayController.afterFlip), which on Qdrant are HTTP round trips: wait for them.
  const want = [`${stageNameFor('embed', s.prefix)}.pid`, `${stageNameFor('index', s.prefix)}.pid`].sort();
  const run = await waitFor(
    'the replay processes adopted as the stages',
    () => {
      const names = readdirSync(join(s.home, 'run')).sort();
      return names.join() === want.join() ? names : undefined;
    },
    15_000,
  ).catch(() => readdirSync(join(s.home, 'run')).sort());
  expect(run).toEqual(want);
  // keep searching a while after the flip
  await new Promise((r) => setTimeout(r, 2_000));
  await load.stop();

  // serving_since is the flip transaction's start (now()); it becomes visible at its commit, a
  // moment later. So: an answer that ended before the transaction began is A's; an answer from
  // B never ends before it began; and once an answer from B has ended (the commit happened), no
  // answer started later is A's (no reader goes back).
  const flip = await s.schema.pool.query<{ at: Date }>(
    "SELECT serving_since AS at FROM generations WHERE stage = 'index' AND generation = 2 AND serving",
  );
  const flipAt = flip.rows[0]?.at.getTime() ?? Number.NaN;
  const a = load.answers;
  const seconds = (Math.max(...a.map((x) => x.end)) - Math.min(...a.map((x) => x.start))) / 1000;
  const byA = a.filter((x) => x.model === MODEL_A && x.generation === 1);
  const byB = a.filter((x) => x.model === MODEL_B && x.generation === 2);
  const firstBEnd = Math.min(...byB.map((x) => x.end));
  s.log(
    `${a.length} searches in ${seconds.toFixed(1)} s (${(a.length / seconds).toFixed(1)}/s, ${CLIENTS} clients): ${byA.length} by ${MODEL_A} (g1), ${byB.length} by ${MODEL_B} (g2); the replay flipped ${((flipAt - t0) / 1000).toFixed(1)} s after the test began`,
  );
  expect(a.length / seconds).toBeGreaterThanOrEqual(20);
  expect(a.filter((x) => x.status !== 200)).toEqual([]);
  expect(a.filter((x) => x.results === 0)).toEqual([]);
  expect(byA.length + byB.length).toBe(a.length);
  expect(byA.filter((x) => x.end < flipAt).length).toBeGreaterThan(0);
  expect(byB.length).toBeGreaterThan(0);
  expect(byB.filter((x) => x.end < flipAt)).toEqual([]);
  expect(byA.filter((x) => x.start > firstBEnd)).toEqual([]);

  // the new collection vs a from-scratch embedding of every item with model B
  const rows = await s.schema.pool.query<{
    item_id: string;
    title: string;
    summary: string | null;
    embed_model: string;
  }>('SELECT item_id, title, summary, embed_model FROM items WHERE item_id = ANY($1) ORDER BY item_id', [ids]);
  expect(new Set(rows.rows.map((r) => r.embed_model))).toEqual(new Set([MODEL_B]));
  const client = new EmbeddingClient(embeddingSettings({ baseUrl: embeddingBaseUrl, model: MODEL_B }));
  const fresh = await client.embed(
    rows.rows.map((r) => embeddingText(r)),
    {},
  );
  const stored = await storedVectors(2);
  expect([...stored.keys()].sort()).toEqual(rows.rows.map((r) => r.item_id).sort());
  let worst = 0;
  for (const [i, r] of rows.rows.entries()) {
    const e = fresh.results[i];
    if (!e || e instanceof Error) throw new Error(`no fresh embedding for ${r.item_id}`);
    const v = stored.get(r.item_id) as ArrayLike<number>;
    let n = 0;
    for (const x of e.vector) n += x * x;
    const inv = 1 / Math.sqrt(n);
    for (let d = 0; d < v.length; d++) worst = Math.max(worst, Math.abs(v[d]! - e.vector[d]! * inv));
  }
  s.log(`max |vector difference| over ${rows.rowCount} items: ${worst.toExponential(2)}`);
  expect(worst).toBeLessThanOrEqual(1e-5);
}
