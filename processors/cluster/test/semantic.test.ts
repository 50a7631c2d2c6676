import { describe, expect, it } from 'vitest';
import { loadUciCsv } from '../src/dataset.ts';
import { addInto, decodeQ, dot, encodeQ, quantise } from '../src/semantic.ts';
import { type ChangelogEntry, ClusterState, type HeadlineRecord } from '../src/state.ts';
import { entities } from '../src/tokenize.ts';
import { canonical, compact, FIXTURE } from './helpers.ts';

/** A deterministic stand-in for a sentence embedding: hashed tokens projected on 32 dims. */
function fakeVector(text: string): Float32Array {
  const v = new Float32Array(32);
  for (const w of text.toLowerCase().split(/\W+/).filter(Boolean)) {
    let h = 2166136261;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619) >>> 0;
    v[h % 32]! += 1;
    v[(h >>> 8) % 32]! -= 0.5;
  }
  return v;
}

const T0 = 1_700_000_000_000;
const SEM = {
  semanticWeight: 0.7,
  threshold: 0.3,
  seedThreshold: 0.4,
  decayHours: 24,
  entityWeight: 0.15,
  windowMs: 15 * 60_000,
};

describe('ClusterState, semantic mode (issue 16)', () => {
  const rows: HeadlineRecord[] = loadUciCsv(FIXTURE).map((r) => ({ ...r, vector: fakeVector(r.title) }));

  const run = (c: ClusterState, rs: readonly HeadlineRecord[], batch: number) => {
    const out: ReturnType<ClusterState['assign']>[] = [];
    const log: ChangelogEntry[][] = [];
    for (let i = 0; i < rs.length; i += batch) {
      for (const r of rs.slice(i, i + batch)) out.push(c.assign(r));
      log.push(c.takeChangelog());
    }
    return { out, log };
  };

  it('quantised vectors round-trip through the changelog encoding', () => {
    const q = quantise([0.6, -0.8, 0]);
    expect([...q]).toEqual([76, -102, 0]);
    expect([...decodeQ(encodeQ(Int32Array.from([1, -2, 2 ** 30])))]).toEqual([1, -2, 2 ** 30]);
  });

  it.each([
    [1, 7],
    [3, 18],
    [8, 30],
  ])(
    'changelog every %i records, restore after %i: same story ids and the same changelog as an uninterrupted run (no embedder asked)',
    (batch, n) => {
      const full = new ClusterState(SEM);
      const head = run(full, rows.slice(0, n), batch);
      const tail = run(full, rows.slice(n), batch);
      const log = head.log.flat();
      expect(log.some((e) => e.value?.includes('"e":'))).toBe(true);
      expect(log.some((e) => e.value?.includes('"n":'))).toBe(true);
      for (const [form, entries] of [
        ['raw', log],
        ['compacted', compact(log)],
      ] as const) {
        const restored = ClusterState.restore(entries, SEM);
        const rest = run(restored, rows.slice(n), batch);
        expect(rest.out, form).toEqual(tail.out);
        expect(rest.log, form).toEqual(tail.log);
      }
      const fromSnapshot = ClusterState.restore(full.snapshot(), SEM);
      expect(canonical(fromSnapshot.snapshot())).toEqual(canonical(full.snapshot()));
    },
  );

  it('entities are the capitalised words after the first; overlap can decide a join', () => {
    expect(entities('Apple sues Samsung over Galaxy patents in U.S. court')).toEqual(['samsung', 'galaxy']);
    const mk = (entityWeight: number) => {
      const c = new ClusterState({ entityWeight, threshold: 0.3, seedThreshold: 0.3 });
      c.assign({ itemId: 'a', title: 'Talks resume with Gazprom over Ukraine supplies', publishedAt: T0 });
      return c.assign({ itemId: 'b', title: 'Shares slide as Gazprom warns Ukraine', publishedAt: T0 + 60_000 })
        .storyId;
    };
    expect(mk(0.5)).toBe('s-a');
    expect(mk(0)).toBe('s-b');
  });

  it('time decay lowers the score of a story whose newest item is old', () => {
    const v = [1, 0, 0];
    const mk = (decayHours: number) => {
      const c = new ClusterState({ semanticWeight: 1, threshold: 0.5, seedThreshold: 0.5, decayHours });
      c.assign({ itemId: 'a', title: 'x', publishedAt: T0, vector: v });
      return c.assign({ itemId: 'b', title: 'y', publishedAt: T0 + 20 * 3600_000, vector: v }).storyId;
    };
    expect(mk(0)).toBe('s-a');
    expect(mk(12)).toBe('s-b'); // exp(−20/12) ≈ 0.19 < 0.5
  });

  it('a semantic changelog is refused by a lexical state and vice versa (a new generation)', () => {
    const c = new ClusterState(SEM);
    run(c, rows.slice(0, 5), 5);
    expect(() => ClusterState.restore(c.snapshot(), { windowMs: SEM.windowMs })).toThrow(/options/);
    const l = new ClusterState({ windowMs: SEM.windowMs });
    run(l, rows.slice(0, 5), 5);
    expect(() => ClusterState.restore(l.snapshot(), SEM)).toThrow(/options/);
  });
});

describe('dot (four accumulators)', () => {
  const naive = (a: Int32Array, b: Int32Array) => {
    let d = 0;
    for (let i = 0; i < a.length; i++) d += a[i]! * b[i]!;
    return d;
  };
  /** 384-dim sums of per-word random vectors: headlines that share words are near, like a model's */
  const wordVector = (text: string, dims: number) => {
    const v = new Float32Array(dims);
    for (const w of text.toLowerCase().split(/\W+/).filter(Boolean)) {
      let x = 2166136261;
      for (let i = 0; i < w.length; i++) x = Math.imul(x ^ w.charCodeAt(i), 16777619) >>> 0;
      for (let i = 0; i < dims; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        v[i]! += x / 4294967296 - 0.5;
      }
    }
    return v;
  };

  it('equals the one-accumulator loop on item vectors and story sums, for every length', () => {
    const titles = loadUciCsv(FIXTURE).map((r) => r.title);
    for (const dims of [384, 383, 5, 3, 1]) {
      const items = titles.map((t) => quantise(wordVector(t, dims)));
      let sum: Int32Array | undefined;
      const sums = items.map((q) => (sum = addInto(sum ? Int32Array.from(sum) : undefined, q)));
      for (const a of items) for (const b of [...items, ...sums]) expect(dot(a, b)).toBe(naive(a, b));
    }
  });

  it('stays exact where the sums are far beyond int32 (a story of a million members)', () => {
    const a = new Int32Array(384).fill(127);
    const b = new Int32Array(384).map((_, i) => (i % 2 ? -1 : 1) * 127_000_000 + i);
    const exact = Number(a.reduce((s, x, i) => s + BigInt(x) * BigInt(b[i]!), 0n));
    expect(dot(a, b)).toBe(exact);
    expect(dot(a, a)).toBe(384 * 127 * 127);
  });
});
