import { describe, expect, it } from 'vitest';
import { type FixtureRecord, pipelineFixture } from '../src/fixtures.ts';
import { foldBatch, newer, type StageRecord } from '../src/rows.ts';

const stageOf = {
  RawHeadline: 'ingest',
  ClassifiedHeadline: 'classify',
  ClusteredHeadline: 'cluster',
  EmbeddedHeadline: 'embed',
  IndexedHeadline: 'index',
} as const;

function stageRecords(f: FixtureRecord[]): StageRecord[] {
  return f.flatMap((r) =>
    r.record === null || r.record === 'DeadLetter' ? [] : [{ stage: stageOf[r.record], value: r.value } as StageRecord],
  );
}

/** A seeded shuffle, so a failure can be reproduced. */
function shuffle<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('foldBatch', () => {
  const records = stageRecords(pipelineFixture({ items: 60, jobs: 3, regenEvery: 4, failEvery: 11 }));

  it('does not depend on the order records arrive in (what makes a replayed or interleaved log converge)', () => {
    const reference = foldBatch(records);
    for (const seed of [1, 2, 3, 42]) expect(foldBatch(shuffle(records, seed))).toEqual(reference);
  });

  it('keeps the newest generation of a block even when it comes first, and the ingest job', () => {
    const { items } = foldBatch(records);
    const regen = records.filter((r) => r.stage === 'classify' && r.value.classification.run.generation === 2);
    expect(regen.length).toBe(15);
    for (const r of regen) {
      const row = items.find((i) => i.itemId === r.value.item_id)!;
      expect(row.classify?.generation).toBe(2);
      expect(row.job?.id).toMatch(/^job-/);
    }
  });

  it('counts records per (job, stage, item), sorted by key', () => {
    const doubled = foldBatch([...records, ...records]);
    const once = foldBatch(records);
    expect(doubled.steps.map((s) => s.records)).toEqual(once.steps.map((s) => s.records * 2));
    const keys = once.steps.map((s) => `${s.jobId}\u0000${s.stage}\u0000${s.itemId}`);
    expect(keys).toEqual([...keys].sort());
  });
});

describe('newer', () => {
  it('orders by generation first, then time; equal is not newer', () => {
    expect(newer({ generation: 2, at: 1 }, { generation: 1, at: 9 })).toBe(false);
    expect(newer({ generation: 1, at: 9 }, { generation: 2, at: 1 })).toBe(true);
    expect(newer({ generation: 1, at: 5 }, { generation: 1, at: 5 })).toBe(false);
    expect(newer(null, { generation: 1, at: 5 })).toBe(true);
    expect(newer({ generation: 1, at: 5 }, null)).toBe(false);
  });
});
