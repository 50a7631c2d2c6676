import { describe, expect, it } from 'vitest';
import { loadUciCsv } from '../src/dataset.ts';
import { evaluateClustering } from '../src/metrics.ts';
import {
  type ChangelogEntry,
  ClusterState,
  type HeadlineRecord,
  MAX_SEGMENTS,
  SEGMENT_MAX_ITEMS,
  storyIdFor,
} from '../src/state.ts';
import { canonical, compact, FIXTURE } from './helpers.ts';

const H = 3600_000;
const T0 = 1_700_000_000_000;
const rec = (itemId: string, title: string, minutes: number, source = 'x'): HeadlineRecord => ({
  itemId,
  title,
  source,
  publishedAt: T0 + minutes * 60_000,
});

describe('ClusterState: joining', () => {
  it('near-duplicate headlines from different publishers join; unrelated ones do not', () => {
    const c = new ClusterState();
    const a = c.assign(rec('1', 'Acme Motors recalls 40,000 sedans over brake defect', 0, 'Daily Ledger'));
    const b = c.assign(rec('2', 'Acme Motors Recalls 40,000 Sedans Over Faulty Brakes', 1, 'Motor Weekly'));
    const u = c.assign(rec('3', 'Local bakery celebrates 100 years of sourdough', 2, 'Coast Tribune'));
    const d = c.assign(rec('4', 'UPDATE 2-Acme recall: brake defect hits 40,000 sedans', 3, 'Wire'));
    expect(a).toMatchObject({ storyId: storyIdFor('1'), isNew: true });
    expect(b.storyId).toBe(a.storyId);
    expect(b.isNew).toBe(false);
    expect(b.similarity).toBeGreaterThanOrEqual(c.options.seedThreshold);
    expect(u.isNew).toBe(true);
    expect(u.storyId).toBe(storyIdFor('3'));
    expect(d.storyId).toBe(a.storyId);
  });

  it('the hand-written fixture is clustered into its stories', () => {
    const rows = loadUciCsv(FIXTURE);
    const c = new ClusterState();
    const pred = rows.map((r) => c.assign(r).storyId);
    const m = evaluateClustering(
      pred,
      rows.map((r) => r.story),
    );
    // Every multi-headline story of the fixture is found whole; the one known weakness of the
    // low join threshold shows too: "Volunteers plant trees in city park" joins the "Harbor City
    // mayor" story on the single word "city" (B3 precision 0.95, not 1).
    for (const story of ['acme-recall', 'harbor-mayor', 'storm-delia', 'zentrix-phone', 'rovers-final']) {
      expect(new Set(pred.filter((_, i) => rows[i]!.story === story)).size).toBe(1);
    }
    expect(m.bcubed.precision).toBeGreaterThan(0.9);
    expect(m.bcubed.f1).toBeGreaterThan(0.9);
  });

  it('useCategory keeps categories apart', () => {
    const c = new ClusterState({ useCategory: true });
    const a = c.assign({ ...rec('1', 'Apple unveils new iPhone model', 0), category: 't' });
    const b = c.assign({ ...rec('2', 'Apple unveils new iPhone model', 1), category: 'b' });
    expect(b.storyId).not.toBe(a.storyId);
    const d = c.assign({ ...rec('3', 'Apple unveils iPhone model', 2), category: 't' });
    expect(d.storyId).toBe(a.storyId);
  });

  it('a headline with no content words opens its own story', () => {
    const c = new ClusterState();
    c.assign(rec('1', 'The return of the king', 0));
    const r = c.assign(rec('2', 'What is it?', 1));
    expect(r).toMatchObject({ storyId: storyIdFor('2'), isNew: true, similarity: 0 });
  });
});

describe('ClusterState: ageing by event time', () => {
  it('a story ages out after the window of its newest item and emits tombstones', () => {
    const c = new ClusterState({ windowMs: 2 * H });
    const a = c.assign(rec('1', 'Storm Delia floods coastal towns', 0));
    c.assign(rec('2', 'Storm Delia floods coastal towns as rivers burst', 60)); // extends the story to t=60min
    expect(c.takeChangelog().map((e) => e.key)).toEqual([`s/${a.storyId}/0`, 'm']);
    // 2h59m after the newest item: still live → joins
    const b = c.assign(rec('3', 'Storm Delia: coastal towns flooded', 60 + 119));
    expect(b.storyId).toBe(a.storyId);
    // one new item on a 2-item segment: a segment of its own (binary counter: 2 + 1)
    expect(c.takeChangelog().map((e) => e.key)).toEqual([`s/${a.storyId}/1`, 'm']);
    // far later (event time): the story is gone, the same words open a new story
    const later = c.assign(rec('4', 'Storm Delia floods coastal towns again', 60 + 119 + 121));
    expect(later.isNew).toBe(true);
    expect(later.storyId).toBe(storyIdFor('4'));
    const log = c.takeChangelog();
    expect(log.filter((e) => e.value === null).map((e) => e.key)).toEqual([`s/${a.storyId}/0`, `s/${a.storyId}/1`]);
    expect(log.filter((e) => e.value !== null).map((e) => e.key)).toEqual([`s/${storyIdFor('4')}/0`, 'm']);
    expect(c.lookup('1')).toBeUndefined();
    expect(c.stats().stories).toBe(1);
  });

  it('uses event time, not arrival: a late item does not evict, and time never goes backwards', () => {
    const c = new ClusterState({ windowMs: 1 * H });
    const a = c.assign(rec('1', 'Zentrix unveils foldable phone', 600));
    const late = c.assign(rec('2', 'Zentrix foldable phone unveiled', 0)); // 10h older, arrives later
    expect(late.storyId).toBe(a.storyId);
    expect(c.stats().clock).toBe(T0 + 600 * 60_000);
  });

  it('state stays bounded on a long stream', () => {
    const c = new ClusterState({ windowMs: 1 * H });
    let maxStories = 0;
    for (let i = 0; i < 3000; i++) {
      // a new distinct event every 10 minutes, 5 headlines each
      const ev = Math.floor(i / 5);
      c.assign(rec(`i${i}`, `alpha${ev} beta${ev} gamma${ev} delta${i}`, ev * 10));
      maxStories = Math.max(maxStories, c.stats().stories);
    }
    const s = c.stats();
    expect(maxStories).toBeLessThanOrEqual(8); // ~6 events per hour are live at once
    expect(s.items).toBeLessThanOrEqual(40);
    expect(s.terms).toBeLessThan(60);
    expect(s.postings).toBeLessThan(60);
  });

  it('a story that never stops growing is closed after maxStoryAgeMs', () => {
    const c = new ClusterState({ windowMs: 1 * H, maxStoryAgeMs: 3 * H });
    const ids = new Set<string>();
    for (let m = 0; m <= 6 * 60; m += 10) ids.add(c.assign(rec(`i${m}`, 'Stock market live blog', m)).storyId);
    // the first story is closed once it is more than 3h old (at 190 min), then a new one opens
    expect([...ids]).toEqual([storyIdFor('i0'), storyIdFor('i190')]);
    expect(c.stats().items).toBe(18); // 190, 200, …, 360
    expect(c.lookup('i180')).toBeUndefined();
  });
});

describe('ClusterState: determinism, idempotence, restore', () => {
  const rows = loadUciCsv(FIXTURE);

  it('two runs over the same stream give the same story ids', () => {
    const run = () => {
      const c = new ClusterState();
      return rows.map((r) => c.assign(r));
    };
    expect(run()).toEqual(run());
  });

  it('re-delivery returns the same answer and changes nothing', () => {
    const c = new ClusterState();
    const first = rows.slice(0, 20).map((r) => c.assign(r));
    expect(c.takeChangelog().length).toBeGreaterThan(0);
    const before = canonical(c.snapshot());
    for (const [i, r] of rows.slice(0, 20).entries()) {
      const again = c.assign(r);
      expect(again).toEqual(first[i]!);
    }
    expect(c.takeChangelog()).toEqual([]);
    // even with a different title, a known item id keeps its story
    const twisted = c.assign({ ...rows[0]!, title: 'Something else entirely' });
    expect(twisted.storyId).toBe(first[0]!.storyId);
    expect(canonical(c.snapshot())).toEqual(before);
  });

  /** assigns `rows` taking the changelog after every `batch` records, as the stage does per transaction */
  const run = (c: ClusterState, rs: readonly HeadlineRecord[], batch: number) => {
    const out: ReturnType<ClusterState['assign']>[] = [];
    const log: ChangelogEntry[][] = [];
    for (let i = 0; i < rs.length; i += batch) {
      for (const r of rs.slice(i, i + batch)) out.push(c.assign(r));
      log.push(c.takeChangelog());
    }
    return { out, log };
  };

  describe.each([1, 3, 8])('taking the changelog every %i records', (batch) => {
    it.each([1, 7, 18, 30])('restore after %i records continues like an uninterrupted run', (n) => {
      const opts = { windowMs: 15 * 60_000 }; // short window: the fixture also exercises eviction
      // the uninterrupted run takes its changelog at the same points as the interrupted one
      const full = new ClusterState(opts);
      const head = run(full, rows.slice(0, n), batch);
      const tail = run(full, rows.slice(n), batch);

      const first = new ClusterState(opts);
      const log = run(first, rows.slice(0, n), batch).log.flat();
      expect(log).toEqual(head.log.flat());

      for (const [form, entries] of [
        ['raw', log],
        ['compacted', compact(log)],
        ['snapshot', first.snapshot()],
      ] as const) {
        const restored = ClusterState.restore(entries, opts);
        expect(canonical(restored.snapshot())).toEqual(canonical(first.snapshot()));
        expect(restored.stats()).toEqual(first.stats());
        const rest = run(restored, rows.slice(n), batch);
        expect(rest.out).toEqual(tail.out);
        // restored from the log itself, it even writes the same changelog as the uninterrupted run
        if (form !== 'snapshot') expect(rest.log).toEqual(tail.log);
        // and replaying the already-seen prefix after restore is a no-op
        expect(restored.assign(rows[n - 1]!)).toEqual(head.out[n - 1]);
        expect(restored.takeChangelog()).toEqual([]);
      }
    });
  });

  it('writes one entry per story touched (plus meta) per take, not one per token or item', () => {
    const c = new ClusterState();
    for (let i = 0; i < 10; i++) c.assign(rec(`a${i}`, `Acme Motors recalls sedans over brake defect ${i}`, i));
    for (let i = 0; i < 10; i++) c.assign(rec(`b${i}`, `Storm Delia floods coastal towns ${i}`, 10 + i));
    const log = c.takeChangelog();
    expect(log.map((e) => e.key)).toEqual([`s/${storyIdFor('a0')}/0`, `s/${storyIdFor('b0')}/0`, 'm']);
    const seg = JSON.parse(log[0]!.value!) as { i: [string, number][]; t: Record<string, number> };
    expect(seg.i.map(([id]) => id)).toEqual(Array.from({ length: 10 }, (_, i) => `a${i}`));
    expect(seg.t.acme).toBe(10);
  });

  it('merges segments like a binary counter: at most log2(n) + 1 keys per story, O(log n) rewrites per item', () => {
    const opts = { windowMs: 24 * H };
    const n = 200;
    const stream = Array.from({ length: n }, (_, i) =>
      rec(`i${i}`, `Stock market live blog ${i % 3 === 0 ? 'shares' : 'index'}`, i),
    );
    const c = new ClusterState(opts);
    const { out, log } = run(c, stream, 1); // the worst case: one-record batches
    expect(new Set(out.map((a) => a.storyId)).size).toBe(1);
    const id = out[0]!.storyId;
    type Seg = { i: [string, number][]; t: Record<string, number> };
    let rewritten = 0;
    for (const e of log.flat())
      if (e.value !== null && e.key !== 'm') rewritten += (JSON.parse(e.value) as Seg).i.length;
    expect(rewritten / n).toBeLessThan(2 * Math.log2(n));
    for (let m = 1; m <= n; m++) {
      const live = compact(log.slice(0, m).flat()).filter((e) => e.key !== 'm');
      expect(live.length).toBeLessThanOrEqual(Math.floor(Math.log2(m)) + 1);
      // the live segments hold each item once, in join order, and the token counts of exactly those items
      const segs = live
        .map((e) => [Number(e.key.slice(`s/${id}/`.length)), JSON.parse(e.value!) as Seg] as const)
        .sort((a, b) => a[0] - b[0]);
      expect(segs.map(([k]) => k)).toEqual(segs.map((_, k) => k));
      expect(segs.flatMap(([, v]) => v.i.map(([item]) => item))).toEqual(stream.slice(0, m).map((r) => r.itemId));
      expect(segs.reduce((sum, [, v]) => sum + v.t.stock!, 0)).toBe(m);
      if (m % 17 === 0 || m === n) {
        const restored = ClusterState.restore(compact(log.slice(0, m).flat()), opts);
        const fresh = new ClusterState(opts);
        run(fresh, stream.slice(0, m), 1);
        expect(canonical(restored.snapshot())).toEqual(canonical(fresh.snapshot()));
      }
    }
  });

  it(`never keeps more than ${MAX_SEGMENTS} segments, even with ever smaller batches`, () => {
    const opts = { windowMs: 24 * H };
    const c = new ClusterState(opts);
    const log: ChangelogEntry[] = [];
    let i = 0;
    let most = 0;
    for (let size = 40; size >= 1; size--) {
      for (let j = 0; j < size; j++, i++) c.assign(rec(`i${i}`, 'Stock market live blog', i));
      log.push(...c.takeChangelog());
      most = Math.max(most, compact(log).length - 1); // − the meta record
    }
    expect(most).toBe(MAX_SEGMENTS); // the cap was reached, and held
    expect(ClusterState.restore(compact(log), opts).stats().items).toBe(i);
  });

  it(`does not merge segments past ${SEGMENT_MAX_ITEMS} items (message size), a long story keeps more keys instead`, () => {
    const opts = { windowMs: 24 * H, maxStoryAgeMs: 24 * H };
    const c = new ClusterState(opts);
    const n = 3 * SEGMENT_MAX_ITEMS + 100;
    const log: ChangelogEntry[] = [];
    let biggest = 0;
    for (let i = 0; i < n; i += 50) {
      for (let j = i; j < Math.min(n, i + 50); j++) c.assign(rec(`i${j}`, 'Stock market live blog', j / 1000));
      for (const e of c.takeChangelog()) {
        log.push(e);
        if (e.value !== null && e.key !== 'm') biggest = Math.max(biggest, JSON.parse(e.value).i.length);
      }
    }
    expect(biggest).toBeLessThanOrEqual(SEGMENT_MAX_ITEMS);
    const live = compact(log);
    expect(live.length - 1).toBeGreaterThanOrEqual(4);
    expect(live.length - 1).toBeLessThanOrEqual(MAX_SEGMENTS);
    expect(ClusterState.restore(live, opts).stats().items).toBe(n);
  });

  it('restore refuses a changelog written with different options, or in the old per-token format', () => {
    const c = new ClusterState({ threshold: 0.1 });
    c.assign(rows[0]!);
    const log = c.takeChangelog();
    expect(() => ClusterState.restore(log, { threshold: 0.2 })).toThrow(/options/);
    expect(ClusterState.restore([]).stats().stories).toBe(0);
    const v1 = [{ key: 'm', value: JSON.stringify({ v: 1, clock: 0, seq: 1, cfg: 'x' }) }];
    expect(() => ClusterState.restore(v1)).toThrow(/version 1/);
    // a story missing a segment is an inconsistent log, not a silently smaller story
    const c2 = new ClusterState();
    const stream = Array.from({ length: 6 }, (_, i) => rec(`i${i}`, 'Stock market live blog', i));
    const live = compact(run(c2, stream, 1).log.flat());
    const id = storyIdFor('i0');
    expect(live.map((e) => e.key)).toEqual([`s/${id}/0`, `s/${id}/1`, 'm']); // 4 + 2 items
    expect(ClusterState.restore(live).stats().items).toBe(6);
    expect(() => ClusterState.restore(live.filter((e) => e.key !== `s/${id}/0`))).toThrow(/header segment/);
    const gap = live.map((e) => (e.key === `s/${id}/1` ? { ...e, key: `s/${id}/2` } : e));
    expect(() => ClusterState.restore(gap)).toThrow(/lacks segment 1/);
  });
});
