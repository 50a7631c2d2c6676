// Issue 9, "the flip must be safe on both index backends": the model-swap scenario
// (model-swap-scenario.ts) with every index on a real Qdrant server — the in-process pipeline's
// generation 1, the API's searches and the replay's index processes (INDEX_BACKEND=qdrant, which
// the controller passes them). Runs only with QDRANT_URL (on the skip allow-list, like
// processors/index/test/qdrant.it.test.ts); README "Qdrant" says how to build and start one.
//
// Names: the serving alias is unique per run. The collections are the product's fixed
// `headlines_g<N>` (no prefix exists for them), so this test wants a scratch server: it refuses
// to start when an alias other than its own serves headlines_g1/g2, drops unserved leftovers of an
// earlier run, and drops what it created afterwards. Two runs never overlap: the replay tests take
// turns (startReplayStack's advisory lock).
import { QdrantIndex } from '@feedlog/index/qdrant';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelSwapScenario } from './model-swap-scenario.ts';
import { headlines, type ReplayStack, startReplayStack } from './replay-helpers.ts';

const url = process.env.QDRANT_URL;
if (!url) console.warn('\n[replay] SKIPPED the Qdrant model-swap test: QDRANT_URL is not set\n');

const GENERATIONS = [1, 2];

describe.skipIf(!url)('replay embed with another model on a real Qdrant server (issue 9)', () => {
  const qdrant = new QdrantIndex({ url: url ?? 'http://127.0.0.1:6333', checkCompatibility: false });
  const alias = `feedlog_replay_it_${Date.now().toString(36)}_${process.pid}`;
  let s: ReplayStack | undefined;
  const items = headlines(300);

  /** drop this run's alias and the generations' collections (refused by dropGeneration while served) */
  async function cleanUp(): Promise<void> {
    const { aliases } = await qdrant.client.getAliases();
    if (aliases.some((a) => a.alias_name === alias))
      await qdrant.client.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: alias } }] });
    for (const g of GENERATIONS) {
      const { exists } = await qdrant.client.collectionExists(qdrant.collectionName(g));
      if (exists) await qdrant.dropGeneration(g);
    }
  }

  beforeAll(async () => {
    const { aliases } = await qdrant.client.getAliases();
    const names = GENERATIONS.map((g) => qdrant.collectionName(g));
    const foreign = aliases.filter((a) => names.includes(a.collection_name));
    if (foreign.length)
      throw new Error(
        `QDRANT_URL serves ${foreign.map((a) => `${a.alias_name} → ${a.collection_name}`).join(', ')}: ` +
          'this test writes headlines_g1/g2, give it a scratch Qdrant',
      );
    await cleanUp();
    s = await startReplayStack('replayswapq', undefined, { url: url as string, alias, index: qdrant });
  }, 60_000);
  afterAll(async () => {
    await s?.replays.abort().catch(() => undefined);
    await s?.close();
    await cleanUp();
  }, 60_000);

  it('zero failed or empty searches; model A before the flip, B after; the new collection (scrolled back) equals model B from scratch', async () => {
    const stack = s as ReplayStack;
    await modelSwapScenario(stack, items, async (gen) => {
      const out = new Map<string, number[]>();
      let offset: string | number | undefined;
      do {
        const page = await qdrant.client.scroll(qdrant.collectionName(gen), {
          limit: 256,
          with_payload: ['item_id'],
          with_vector: true,
          ...(offset !== undefined ? { offset } : {}),
        });
        for (const p of page.points) out.set(String(p.payload?.item_id), p.vector as number[]);
        const next = page.next_page_offset;
        offset = typeof next === 'string' || typeof next === 'number' ? next : undefined;
      } while (offset !== undefined);
      return out;
    });
    // the alias now names generation 2 on the server itself (not only in PostgreSQL)
    expect(await qdrant.servingGeneration(alias)).toBe(2);
  }, 240_000);
});
