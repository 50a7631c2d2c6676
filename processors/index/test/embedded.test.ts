import { appendFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tempDirs } from '@feedlog/test';
import { describe, expect, it } from 'vitest';
import { EmbeddedIndex } from '../src/embedded.ts';
import { type EngineKind, engineAvailable } from '../src/engines.ts';
import { clusteredVectors, exactTopK } from '../src/synthetic.ts';
import { type HeadlinePayload, type IndexPoint, matchesFilter, type SearchFilter } from '../src/types.ts';

const dims = 32;
const tmp = tempDirs('feedlog-index-');

const categories = ['world', 'business', 'sport', 'tech'];
function payload(i: number): HeadlinePayload {
  return {
    title: `headline ${i}`,
    url: `https://example.org/${i}`,
    source: `src-${i % 7}`,
    category: categories[i % 4]!,
    story_id: `story-${Math.floor(i / 10)}`,
    published_at: i % 13 === 0 ? null : Date.UTC(2025, 0, 1) + i * 60_000,
  };
}

function dataset(n: number, seed = 1) {
  const d = clusteredVectors({ n, dims, clusters: 12, spread: 0.8, seed });
  const points: IndexPoint[] = Array.from({ length: n }, (_, i) => ({
    itemId: `item-${i}`,
    vector: d.vectors.subarray(i * dims, (i + 1) * dims),
    payload: payload(i),
  }));
  return { d, points };
}

/** exact answer over the points matching a filter */
function truth(points: IndexPoint[], data: Float32Array, q: Float32Array, k: number, f?: SearchFilter): string[] {
  const rows = points.flatMap((p, i) => (matchesFilter(p.payload, f) ? [i] : []));
  return exactTopK(data, dims, q, k, rows).rows.map((r) => points[r]!.itemId);
}

for (const engine of ['usearch', 'hnswlib'] as EngineKind[]) {
  const available = engineAvailable(engine);
  if (!available) console.warn(`\n[index] SKIPPED ${engine} engine tests: its native addon does not load here\n`);
  describe.skipIf(!available)(`embedded index (${engine})`, () => {
    it('finds exact neighbours, upserts idempotently by item id, deletes', async () => {
      const idx = new EmbeddedIndex({ dir: tmp(), engine });
      const { d, points } = dataset(600);
      await idx.ensureGeneration(1, dims, 'cosine');
      await idx.upsert(1, points.slice(0, 400));
      await idx.upsert(1, points.slice(300)); // 100 re-deliveries
      expect(await idx.count(1)).toBe(600);

      const q = d.sample(1, 5);
      const hits = await idx.search(1, q, { limit: 10 });
      const want = truth(points, d.vectors, q, 10);
      const overlap = hits.filter((h) => want.includes(h.itemId)).length;
      expect(overlap).toBeGreaterThanOrEqual(9);
      expect(hits[0]!.score).toBeGreaterThan(hits[9]!.score);
      expect(hits[0]!.payload).toEqual(points.find((p) => p.itemId === hits[0]!.itemId)!.payload);

      // a point's own vector finds itself first, with cosine ≈ 1
      const self = await idx.search(1, points[42]!.vector, { limit: 1 });
      expect(self[0]!.itemId).toBe('item-42');
      expect(self[0]!.score).toBeCloseTo(1, 4);

      // changing the vector of an item moves it (update, not a second point)
      await idx.upsert(1, [{ ...points[42]!, vector: points[500]!.vector }]);
      expect(await idx.count(1)).toBe(600);
      const moved = await idx.search(1, points[500]!.vector, { limit: 2 });
      expect(moved.map((h) => h.itemId).sort()).toEqual(['item-42', 'item-500']);

      await idx.delete(1, ['item-42', 'item-500', 'never-there']);
      expect(await idx.count(1)).toBe(598);
      const after = await idx.search(1, points[500]!.vector, { limit: 5 });
      expect(after.map((h) => h.itemId)).not.toContain('item-42');
      expect(after.map((h) => h.itemId)).not.toContain('item-500');

      // offset pages through the same ranking
      const page1 = await idx.search(1, q, { limit: 5 });
      const page2 = await idx.search(1, q, { limit: 5, offset: 5 });
      const both = await idx.search(1, q, { limit: 10 });
      expect([...page1, ...page2].map((h) => h.itemId)).toEqual(both.map((h) => h.itemId));
      await idx.close();
    });

    it('filters are exact when selective and correct when broad', async () => {
      const idx = new EmbeddedIndex({ dir: tmp(), engine, exactScanMax: 50 });
      const { d, points } = dataset(2000, 3);
      await idx.ensureGeneration(2, dims, 'cosine');
      await idx.upsert(2, points);
      const qs = d.sample(5, 11);
      const filters: SearchFilter[] = [
        { storyId: 'story-17' }, // 10 points: exact scan
        { category: 'sport', source: 'src-3' }, // ~70 points: graph + filter
        { category: 'tech' }, // 500 points
        { since: Date.UTC(2025, 0, 1) + 1_000 * 60_000, until: Date.UTC(2025, 0, 1) + 1_100 * 60_000 },
        { source: 'src-1', since: Date.UTC(2025, 0, 1) + 1_500 * 60_000 },
        { category: 'nope' },
      ];
      for (const f of filters) {
        let overlap = 0;
        let total = 0;
        for (let i = 0; i < 5; i++) {
          const q = qs.subarray(i * dims, (i + 1) * dims);
          const hits = await idx.search(2, q, { limit: 10, filter: f });
          for (const h of hits) expect(matchesFilter(h.payload, f)).toBe(true);
          const want = truth(points, d.vectors, q, 10, f);
          expect(hits.length).toBe(want.length);
          overlap += hits.filter((h) => want.includes(h.itemId)).length;
          total += want.length;
        }
        if (total) expect(overlap / total).toBeGreaterThanOrEqual(0.9);
      }
      // the selective one must be exact
      const q0 = qs.subarray(0, dims);
      const exact = await idx.search(2, q0, { limit: 10, filter: { storyId: 'story-17' } });
      expect(exact.map((h) => h.itemId)).toEqual(truth(points, d.vectors, q0, 10, { storyId: 'story-17' }));
      await idx.close();
    });

    it('aliases flip atomically between generations; a served generation cannot be dropped', async () => {
      const dir = tmp();
      const idx = new EmbeddedIndex({ dir, engine });
      const { points } = dataset(50, 4);
      await idx.ensureGeneration(1, dims, 'cosine');
      await idx.ensureGeneration(2, dims, 'cosine');
      await idx.upsert(1, points.slice(0, 20));
      await idx.upsert(2, points);
      expect(await idx.servingGeneration('headlines')).toBeUndefined();
      await expect(idx.search('headlines', points[0]!.vector)).rejects.toThrow(/alias/);
      await idx.flipAlias('headlines', 1);
      expect(await idx.servingGeneration('headlines')).toBe(1);
      expect((await idx.search('headlines', points[30]!.vector, { limit: 100 })).length).toBe(20);
      await idx.flipAlias('headlines', 2);
      expect(await idx.servingGeneration('headlines')).toBe(2);
      expect((await idx.search('headlines', points[30]!.vector, { limit: 1 }))[0]!.itemId).toBe('item-30');
      await expect(idx.dropGeneration(2)).rejects.toThrow(/served by alias headlines/);
      await idx.dropGeneration(1);
      expect(await idx.generations()).toEqual([2]);
      await expect(idx.flipAlias('headlines', 1)).rejects.toThrow(/missing/);
      await expect(idx.ensureGeneration(2, dims + 1, 'cosine')).rejects.toThrow(/exists with/);
      // no temp files left behind by the renames
      expect(readdirSync(join(dir, 'aliases'))).toEqual(['headlines']);
      await idx.close();
    });

    it('survives a crash: the write-ahead log is replayed, a torn tail is cut off', async () => {
      const dir = tmp();
      const { points } = dataset(300, 5);
      const a = new EmbeddedIndex({ dir, engine });
      await a.ensureGeneration(1, dims, 'cosine');
      await a.upsert(1, points.slice(0, 200));
      a.snapshot(); // snapshot holds 200
      await a.upsert(1, points.slice(200)); // the log holds 100 more
      await a.delete(1, ['item-7']);
      // crash: no close(); then a half-written frame at the end of the log
      const walFile = readdirSync(join(dir, 'headlines_g1')).find((f) => f.startsWith('wal-'))!;
      const walPath = join(dir, 'headlines_g1', walFile);
      const size = statSync(walPath).size;
      appendFileSync(walPath, Buffer.from([200, 1, 0, 0, 9, 9, 9, 9, 1, 2]));

      const b = new EmbeddedIndex({ dir, engine });
      expect(await b.count(1)).toBe(299);
      expect(statSync(walPath).size).toBe(size); // the torn frame is gone
      const hit = await b.search(1, points[250]!.vector, { limit: 1 });
      expect(hit[0]!.itemId).toBe('item-250');
      const gone = await b.search(1, points[7]!.vector, { limit: 3 });
      expect(gone.map((h) => h.itemId)).not.toContain('item-7');
      // writes continue after the cut, and a clean close snapshots everything
      await b.upsert(1, [points[7]!]);
      await b.close();
      const c = new EmbeddedIndex({ dir, engine });
      expect(await c.count(1)).toBe(300);
      expect((await c.search(1, points[7]!.vector, { limit: 1 }))[0]!.itemId).toBe('item-7');
      await c.close();
    });

    it('snapshots by itself when the log passes snapshotBytes, and reopens from snapshot + log', async () => {
      const dir = tmp();
      const { points } = dataset(300, 8);
      const a = new EmbeddedIndex({ dir, engine, snapshotBytes: 20_000 });
      await a.ensureGeneration(1, dims, 'cosine');
      for (let i = 0; i < 300; i += 25) await a.upsert(1, points.slice(i, i + 25));
      const files = readdirSync(join(dir, 'headlines_g1'));
      expect(files.filter((f) => f.startsWith('snap-'))).toHaveLength(1); // older snapshots removed
      expect(files.filter((f) => f.startsWith('wal-'))).toHaveLength(1);
      const b = new EmbeddedIndex({ dir, engine }); // no close(): as after a crash
      expect(await b.count(1)).toBe(300);
      expect((await b.search(1, points[299]!.vector, { limit: 1 }))[0]!.itemId).toBe('item-299');
      await a.close();
    });

    it('a read-only reader in another instance follows the writer (log tail, then a new snapshot)', async () => {
      const dir = tmp();
      const { points } = dataset(100, 6);
      const w = new EmbeddedIndex({ dir, engine });
      await w.ensureGeneration(1, dims, 'cosine');
      await w.upsert(1, points.slice(0, 50));
      const r = new EmbeddedIndex({ dir, engine, readOnly: true });
      expect((await r.search(1, points[10]!.vector, { limit: 1 }))[0]!.itemId).toBe('item-10');
      await w.upsert(1, points.slice(50, 80));
      expect((await r.search(1, points[60]!.vector, { limit: 1 }))[0]!.itemId).toBe('item-60');
      w.snapshot();
      await w.upsert(1, points.slice(80));
      await w.delete(1, ['item-10']);
      expect(await r.count(1)).toBe(99);
      expect((await r.search(1, points[90]!.vector, { limit: 1 }))[0]!.itemId).toBe('item-90');
      await expect(r.upsert(1, [points[0]!])).rejects.toThrow(/read-only/);
      await w.close();
    });
  });
}
