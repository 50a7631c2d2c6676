// Issue 9, "aborted replay and crash": the replay's stage processes are SIGKILLed mid-way; the
// controller (the API's timer) starts them again, the replay resumes from the groups' committed
// offsets and ends as an uninterrupted one does (the same items, the vectors model B gives from
// scratch, every row on the new generation). Then a second replay is aborted half-way through
// DELETE /v1/replays/:id: its processes stop, and serving, the rows and search results are
// exactly what they were; `gc` then deletes the aborted and the retired generations.

import { setTimeout as sleep } from 'node:timers/promises';
import { EmbeddingClient, embeddingSettings, embeddingText } from '@feedlog/embed';
import { EmbeddedIndex } from '@feedlog/index';
import { testKafka } from '@feedlog/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectGarbage } from '../src/gc.ts';
import { runningPid } from '../src/processes.ts';
import {
  api,
  embeddingBaseUrl,
  headlines,
  ingest,
  MODEL_A,
  MODEL_B,
  type ReplayBody,
  type ReplayStack,
  slowEmbedder,
  startReplayStack,
  waitReplay,
} from './replay-helpers.ts';

// small embedding requests for the replay's embed process (it inherits this environment): the
// replay takes dozens of transactions, so a kill lands in the middle of it
process.env.EMBED_BATCH_SIZE = '2';
process.env.EMBED_CONCURRENCY = '1';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Poll the replay's embed group until 10-90 % done with both processes up; their PIDs then. */
async function midway(s: ReplayStack, generation: number): Promise<{ done: number; total: number; pids: number[] }> {
  const place = { home: s.home, root: '', prefix: s.prefix };
  const g = await s.schema.pool.query<{ consumer_group: string; from_position: { partitions: { offset: number }[] } }>(
    "SELECT consumer_group, from_position FROM generations WHERE stage = 'embed' AND generation = $1",
    [generation],
  );
  const row = g.rows[0];
  if (!row) throw new Error('no embed generation row');
  const start = row.from_position.partitions.reduce((n, p) => n + p.offset, 0);
  const topic = `${s.prefix}clustered`;
  const admin = testKafka('replaycrash-watch').admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const [ends, committed] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId: row.consumer_group, topics: [topic] }),
      ]);
      const total = ends.reduce((n, e) => n + Number(e.high), 0) - start;
      const done = (committed[0]?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0) - start;
      const pids = [runningPid(place, 'embed', generation), runningPid(place, 'index', generation)];
      if (done >= total * 0.1 && done <= total * 0.9 && pids.every((p) => p !== undefined))
        return { done, total, pids: pids as number[] };
      if (done > total * 0.9) throw new Error(`the replay ran past 90 % (${done}/${total}) before it was seen mid-way`);
      await sleep(50);
    }
    throw new Error('the replay did not get going');
  } finally {
    await admin.disconnect();
  }
}

interface SearchAnswer {
  model: string;
  generation: number | null;
  results: { item: { item_id: string; category: string | null } }[];
}

describe('replay: SIGKILLed processes resume; an aborted replay changes nothing (issue 9)', () => {
  let s: ReplayStack;
  let ids: string[] = [];
  const items = headlines(200);

  // each embedding request of the replay's processes held 150 ms by a proxy: the replay takes
  // seconds whatever the machine, so the test sees it mid-way and kills it there
  let slow: Awaited<ReturnType<typeof slowEmbedder>> | undefined;
  beforeAll(async () => {
    slow = await slowEmbedder(150);
    s = await startReplayStack('replaycrash', slow.url);
    ids = await ingest(s, items);
  });
  afterAll(async () => {
    slow?.server.close();
    await s?.replays.abort().catch(() => undefined);
    await s?.close();
  });

  it('a replay whose processes are SIGKILLed mid-way resumes and ends equal to an uninterrupted one', async () => {
    const started = await api<ReplayBody>(s.base, '/v1/replays', {
      method: 'POST',
      key: s.adminKey,
      body: JSON.stringify({ stage: 'embed', model: MODEL_B }),
    });
    // watch the new embed group's committed offsets closely (not the controller's 1 s samples) and
    // SIGKILL both processes once it is between 10 % and 90 % of the way
    const at = await midway(s, started.generation);
    const killed = at.pids;
    for (const pid of killed) process.kill(pid, 'SIGKILL');
    s.log(`SIGKILLed ${killed.join(', ')} with embed at ${at.done}/${at.total}`);
    await sleep(500);
    expect(killed.filter(alive)).toEqual([]);

    const done = await waitReplay(s, started.id, (r) => r.status === 'serving' || r.status === 'aborted');
    expect(done.status).toBe('serving');
    const restarted = done.progress.stages.flatMap((x) => x.pids);
    expect(restarted.length).toBe(2);
    expect(restarted.filter((p) => killed.includes(p))).toEqual([]);

    const rows = await s.schema.pool.query<{
      item_id: string;
      title: string;
      summary: string | null;
      embed_model: string;
      embed_generation: number;
      index_generation: number;
    }>(
      'SELECT item_id, title, summary, embed_model, embed_generation, index_generation FROM items WHERE item_id = ANY($1) ORDER BY item_id',
      [ids],
    );
    expect(
      rows.rows.filter((r) => r.embed_model !== MODEL_B || r.embed_generation !== 2 || r.index_generation !== 2),
    ).toEqual([]);
    const parked = await s.schema.pool.query('SELECT 1 FROM item_generation_blocks WHERE generation = 2');
    expect(parked.rowCount).toBe(0);

    const fresh = await new EmbeddingClient(embeddingSettings({ baseUrl: embeddingBaseUrl, model: MODEL_B })).embed(
      rows.rows.map((r) => embeddingText(r)),
      {},
    );
    const index = new EmbeddedIndex({ dir: s.indexDir, readOnly: true });
    const coll = index.collection(2);
    coll.refresh();
    const stored = coll.entries();
    expect([...stored.keys()].sort()).toEqual(rows.rows.map((r) => r.item_id).sort());
    let worst = 0;
    for (const [i, r] of rows.rows.entries()) {
      const e = fresh.results[i];
      if (!e || e instanceof Error) throw new Error(`no fresh embedding for ${r.item_id}`);
      const v = stored.get(r.item_id) as Float32Array;
      const n = Math.sqrt(e.vector.reduce((a, x) => a + x * x, 0));
      for (let d = 0; d < v.length; d++) worst = Math.max(worst, Math.abs(v[d]! - e.vector[d]! / n));
    }
    expect(worst).toBeLessThanOrEqual(1e-5);
    await index.close();
  }, 180_000);

  it('an aborted replay leaves serving, rows and search results unchanged', async () => {
    const snapshot = async () =>
      (
        await s.schema.pool.query(
          `SELECT item_id, category, story_id, embed_model, embed_generation, embedded_at, index_generation,
                  index_collection, indexed_at, updated_at FROM items ORDER BY item_id`,
        )
      ).rows;
    const serving = async () =>
      (await s.schema.pool.query('SELECT stage, generation, model_name FROM generations WHERE serving ORDER BY stage'))
        .rows;
    const queries = items.slice(0, 5).map((i) => i.title);
    const search = async () =>
      Promise.all(queries.map((q) => api<SearchAnswer>(s.base, `/v1/search?q=${encodeURIComponent(q)}&limit=10`)));
    const rowsBefore = await snapshot();
    const servingBefore = await serving();
    const resultsBefore = await search();
    expect(resultsBefore.every((r) => r.model === MODEL_B && r.generation === 2 && r.results.length > 0)).toBe(true);

    const started = await api<ReplayBody>(s.base, '/v1/replays', {
      method: 'POST',
      key: s.adminKey,
      body: JSON.stringify({ stage: 'embed', model: MODEL_A }),
    });
    expect(started.generation).toBe(3);
    const mid = await waitReplay(s, started.id, (r) => {
      const e = r.progress.stages.find((x) => x.stage === 'embed');
      return !!e && e.done > 0 && r.progress.stages.every((x) => x.pids.length > 0);
    });
    const pids = mid.progress.stages.flatMap((x) => x.pids);
    const aborted = await api<ReplayBody>(s.base, `/v1/replays/${started.id}`, { method: 'DELETE', key: s.adminKey });
    expect(aborted.status).toBe('aborted');
    expect(pids.filter(alive)).toEqual([]);
    // aborting again is idempotent
    expect(
      (await api<ReplayBody>(s.base, `/v1/replays/${started.id}`, { method: 'DELETE', key: s.adminKey })).status,
    ).toBe('aborted');
    await sleep(3_000); // nothing late may land: the API's timer keeps running
    expect(await serving()).toEqual(servingBefore);
    expect(await snapshot()).toEqual(rowsBefore);
    const resultsAfter = await search();
    expect(resultsAfter.map((r) => [r.model, r.generation, r.results.map((x) => x.item.item_id)])).toEqual(
      resultsBefore.map((r) => [r.model, r.generation, r.results.map((x) => x.item.item_id)]),
    );
    const gens = await s.schema.pool.query<{ stage: string; status: string }>(
      'SELECT stage, status FROM generations WHERE generation = 3 ORDER BY stage',
    );
    expect(gens.rows).toEqual([
      { stage: 'embed', status: 'aborted' },
      { stage: 'index', status: 'aborted' },
    ]);

    // gc: the aborted generation 3 and the retired generation 1 go (collections, parked rows, rows); serving stays.
    // Generation 1's stages run in this process: stopped first, as a retired generation's processes are.
    await s.stopPipeline();
    const dry = await collectGarbage(s.replays.opts, { olderThanMs: 0, dryRun: true });
    expect(dry.map((r) => `${r.stage}:${r.generation}:${r.status}`)).toEqual([
      'embed:1:retired',
      'embed:3:aborted',
      'index:1:retired',
      'index:3:aborted',
    ]);
    expect(await serving()).toEqual(servingBefore);
    await collectGarbage(s.replays.opts, { olderThanMs: 0, dryRun: false });
    const left = await s.schema.pool.query<{ g: string }>(
      "SELECT stage || ':' || generation AS g FROM generations ORDER BY stage, generation",
    );
    expect(left.rows.map((r) => r.g)).toEqual(['classify:1', 'cluster:1', 'embed:2', 'index:2']);
    expect((await s.schema.pool.query('SELECT 1 FROM item_generation_blocks')).rowCount).toBe(0);
    const index = new EmbeddedIndex({ dir: s.indexDir, readOnly: true });
    expect(await index.generations()).toEqual([2]);
    await index.close();
    expect((await search()).map((r) => r.results.map((x) => x.item.item_id))).toEqual(
      resultsBefore.map((r) => r.results.map((x) => x.item.item_id)),
    );
  }, 180_000);
});
