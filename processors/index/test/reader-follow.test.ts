import { tempDirs } from '@feedlog/test';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as snapshot from '../src/embedded/snapshot.ts';
import { EmbeddedIndex } from '../src/embedded.ts';
import { clusteredVectors } from '../src/synthetic.ts';
import { type IndexPoint, IndexUsageError } from '../src/types.ts';

// A read-only reader (the API) reads no file on a search while nothing was written (issue 14:
// the search path stats CURRENT and the log, and reads them only when they changed), yet sees
// every write, snapshot and alias flip that finished before the search began.
vi.mock('../src/embedded/snapshot.ts', async (original) => {
  const real = await original<typeof import('../src/embedded/snapshot.ts')>();
  return { ...real, readCurrent: vi.fn(real.readCurrent) };
});
const readCurrent = vi.mocked(snapshot.readCurrent);

const dims = 16;
const tmp = tempDirs('feedlog-index-follow-');

function points(n: number, seed: number, prefix: string): IndexPoint[] {
  const d = clusteredVectors({ n, dims, clusters: 4, spread: 0.8, seed });
  return Array.from({ length: n }, (_, i) => ({
    itemId: `${prefix}-${i}`,
    vector: d.vectors.subarray(i * dims, (i + 1) * dims),
    payload: {
      title: `${prefix} ${i}`,
      url: `https://example.org/${i}`,
      source: 's',
      category: 'c',
      story_id: 'st',
      published_at: null,
    },
  }));
}

beforeEach(() => {
  readCurrent.mockClear();
});

describe('a read-only reader follows the writer without reading files on every search', () => {
  it('reads CURRENT and the log only after a write, an append or a snapshot', async () => {
    const dir = tmp();
    const p = points(60, 3, 'a');
    const w = new EmbeddedIndex({ dir });
    await w.ensureGeneration(1, dims, 'cosine');
    await w.upsert(1, p.slice(0, 20));
    const r = new EmbeddedIndex({ dir, readOnly: true });
    await r.search(1, p[0]!.vector, { limit: 1 });
    await r.search(1, p[1]!.vector, { limit: 1 }); // the first follow recorded what it saw
    readCurrent.mockClear();
    for (let i = 0; i < 50; i++) await r.search(1, p[i % 20]!.vector, { limit: 1 });
    expect(readCurrent).not.toHaveBeenCalled();

    await w.upsert(1, p.slice(20, 40)); // an append to the log: seen by the very next search
    expect((await r.search(1, p[30]!.vector, { limit: 1 }))[0]!.itemId).toBe('a-30');
    expect(readCurrent).toHaveBeenCalledTimes(1);

    w.snapshot(); // CURRENT replaced, a new log
    await w.upsert(1, p.slice(40));
    await w.delete(1, ['a-30']);
    expect((await r.search(1, p[50]!.vector, { limit: 1 }))[0]!.itemId).toBe('a-50');
    expect((await r.search(1, p[30]!.vector, { limit: 1 }))[0]!.itemId).not.toBe('a-30');
    expect(await r.count(1)).toBe(59);
    readCurrent.mockClear();
    for (let i = 0; i < 20; i++) await r.search(1, p[i]!.vector, { limit: 1 });
    expect(readCurrent).not.toHaveBeenCalled();
    await w.close();
  });

  it('an alias flip is seen by the next search by alias, both ways', async () => {
    const dir = tmp();
    const a = points(10, 4, 'g1');
    const b = points(10, 5, 'g2');
    const w = new EmbeddedIndex({ dir });
    await w.ensureGeneration(1, dims, 'cosine');
    await w.ensureGeneration(2, dims, 'cosine');
    await w.upsert(1, a);
    await w.upsert(2, b);
    await w.flipAlias('headlines', 1);
    const r = new EmbeddedIndex({ dir, readOnly: true });
    for (const [gen, prefix] of [
      [1, 'g1'],
      [2, 'g2'],
      [1, 'g1'],
      [2, 'g2'],
    ] as const) {
      await w.flipAlias('headlines', gen);
      expect(await r.servingGeneration('headlines')).toBe(gen);
      expect((await r.search('headlines', a[0]!.vector, { limit: 1 }))[0]!.itemId).toMatch(new RegExp(`^${prefix}-`));
    }
    await w.close();
  });

  it('concurrent unfiltered searches batched on 2 threads answer exactly as one at a time', async () => {
    const dir = tmp();
    const p = points(400, 6, 'b');
    const w = new EmbeddedIndex({ dir });
    await w.ensureGeneration(1, dims, 'cosine');
    await w.upsert(1, p);
    await w.close();
    const one = new EmbeddedIndex({ dir, readOnly: true });
    const batched = new EmbeddedIndex({ dir, readOnly: true, searchThreads: 2 });
    // different limits and offsets (batched by shape), a filter (not batched), searched all at once
    const asks = p.slice(0, 60).map((x, i) => ({
      v: x.vector,
      opts: { limit: 3 + (i % 4), offset: i % 3, ...(i % 10 === 0 ? { filter: { category: 'c' } } : {}) },
    }));
    const expected = [];
    for (const a of asks) expected.push(await one.search(1, a.v, a.opts));
    const got = await Promise.all(asks.map((a) => batched.search(1, a.v, a.opts)));
    expect(got).toEqual(expected);
    expect(got[5]!.length).toBe(3 + (5 % 4));
  });

  it('searchEf and searchThreads must be positive integers', () => {
    expect(() => new EmbeddedIndex({ dir: tmp(), readOnly: true, searchEf: 0 })).toThrow(IndexUsageError);
    expect(() => new EmbeddedIndex({ dir: tmp(), readOnly: true, searchEf: 1.5 })).toThrow(/searchEf/);
    expect(() => new EmbeddedIndex({ dir: tmp(), readOnly: true, searchThreads: 0 })).toThrow(/searchThreads/);
  });
});
