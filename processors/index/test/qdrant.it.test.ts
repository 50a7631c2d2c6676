// Against a real Qdrant server: runs only when QDRANT_URL is set (docker-compose starts one);
// otherwise skipped with a visible message. Collections get a generation no other run uses.
import { describe, expect, it } from 'vitest';
import { QdrantIndex } from '../src/qdrant.ts';
import { clusteredVectors } from '../src/synthetic.ts';
import type { IndexPoint } from '../src/types.ts';

const url = process.env.QDRANT_URL;
if (!url) console.warn('\n[index] SKIPPED Qdrant integration tests: QDRANT_URL is not set\n');

describe.skipIf(!url)('Qdrant backend on a real server', () => {
  const idx = new QdrantIndex({ url: url ?? 'http://127.0.0.1:6333', checkCompatibility: url !== undefined });
  const gen = 900_000 + Math.floor(Math.random() * 99_999);
  const alias = `feedlog_it_${gen}`;
  const dims = 16;
  const d = clusteredVectors({ n: 200, dims, clusters: 5, spread: 0.8, seed: 9 });
  const points: IndexPoint[] = Array.from({ length: 200 }, (_, i) => ({
    itemId: `it-${i}`,
    vector: d.vectors.subarray(i * dims, (i + 1) * dims),
    payload: {
      title: `t${i}`,
      url: `https://x/${i}`,
      source: `s${i % 3}`,
      category: i % 2 ? 'world' : 'sport',
      story_id: `st${i % 10}`,
      published_at: 1_000 + i,
    },
  }));

  it('generations, idempotent upserts, filters, deletes, an atomic alias flip', async () => {
    await idx.ensureGeneration(gen, dims, 'cosine');
    await idx.ensureGeneration(gen + 1, dims, 'cosine');
    try {
      await idx.upsert(gen, points);
      await idx.upsert(gen, points.slice(0, 50)); // re-delivery
      expect(await idx.count(gen)).toBe(200);
      const self = await idx.search(gen, points[17]!.vector, { limit: 1 });
      expect(self[0]!.itemId).toBe('it-17');
      const filtered = await idx.search(gen, points[17]!.vector, {
        limit: 5,
        filter: { category: 'sport', since: 1_100 },
      });
      for (const h of filtered) {
        expect(h.payload.category).toBe('sport');
        expect(h.payload.published_at).toBeGreaterThanOrEqual(1_100);
      }
      await idx.delete(gen, ['it-17']);
      expect(await idx.count(gen)).toBe(199);
      await idx.flipAlias(alias, gen);
      expect(await idx.servingGeneration(alias)).toBe(gen);
      await idx.flipAlias(alias, gen + 1);
      expect(await idx.servingGeneration(alias)).toBe(gen + 1);
      await expect(idx.dropGeneration(gen + 1)).rejects.toThrow(/served/);
    } finally {
      await idx.client.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: alias } }] });
      await idx.dropGeneration(gen).catch(() => undefined);
      await idx.dropGeneration(gen + 1).catch(() => undefined);
    }
  });

  it('replay safety: a flip to a missing generation is refused and keeps serving, a lost create race is tolerated, a missing alias is IndexUsageError', async () => {
    const g = gen + 2;
    const a = `${alias}_safety`;
    await idx.ensureGeneration(g, dims, 'cosine');
    try {
      await idx.upsert(g, points.slice(0, 10));
      await idx.flipAlias(a, g);
      await expect(idx.flipAlias(a, g + 50)).rejects.toThrow(/cannot point .* at missing/);
      expect(await idx.servingGeneration(a)).toBe(g);
      expect((await idx.search(a, points[3]!.vector, { limit: 1 }))[0]!.itemId).toBe('it-3');
      // two instances racing to create the same generation: both succeed
      await Promise.all([idx.ensureGeneration(g + 3, dims, 'cosine'), idx.ensureGeneration(g + 3, dims, 'cosine')]);
      const missing = await idx.search(`${a}_none`, points[0]!.vector).catch((e: unknown) => e);
      expect((missing as Error).name).toBe('IndexUsageError');
    } finally {
      await idx.client.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: a } }] });
      await idx.dropGeneration(g).catch(() => undefined);
      await idx.dropGeneration(g + 3).catch(() => undefined);
    }
  });
});
