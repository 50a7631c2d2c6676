import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parkUnserved } from '@feedlog/materialize';
import { pipelineFixture } from '@feedlog/materialize/fixtures';
import type { ItemRow } from '@feedlog/materialize/rows';
import { foldBatch, type StageRecord as MaterializedRecord } from '@feedlog/materialize/rows';
import { defineStage, jsonCodec, onlyInputGeneration, runInMemory } from '@feedlog/runtime';
import { describe, expect, it } from 'vitest';
import { parseAge } from '../src/gc.ts';
import { parseFrom, readOffsetsFile } from '../src/position.ts';
import { cascadeOf, groupFor, upstreamOf } from '../src/types.ts';

describe('replay plan', () => {
  it('a stage cascades to every stage downstream; groups are feedlog.<stage>.g<N>', () => {
    expect(cascadeOf('classify')).toEqual(['classify', 'cluster', 'embed', 'index']);
    expect(cascadeOf('embed')).toEqual(['embed', 'index']);
    expect(upstreamOf('classify')).toBeUndefined();
    expect(upstreamOf('index')).toBe('embed');
    expect(groupFor('embed', 3)).toBe('feedlog.embed.g3');
    expect(groupFor('index', 2, 'test.x.')).toBe('feedlog.test.x.index.g2');
  });

  it('--from: earliest, an ISO date-time, an offsets file; anything else is refused', () => {
    expect(parseFrom(undefined)).toEqual({ kind: 'earliest' });
    expect(parseFrom('2024-05-01T00:00:00Z')).toEqual({ kind: 'datetime', at: new Date('2024-05-01T00:00:00Z') });
    expect(() => parseFrom('2024-13-45')).toThrow(/not a valid ISO/);
    expect(() => parseFrom('yesterday')).toThrow(/expected earliest/);
    const dir = mkdtempSync(join(tmpdir(), 'replay-offsets-'));
    const f = join(dir, 'plan.csv');
    writeFileSync(f, 'raw-headlines,0,10\nraw-headlines,2,7\nother,0,1\n');
    expect(parseFrom(f)).toEqual({ kind: 'offsets', file: f });
    expect([...readOffsetsFile(f, 'raw-headlines')]).toEqual([
      [0, 10],
      [2, 7],
    ]);
    writeFileSync(f, 'raw-headlines,x,1\n');
    expect(() => readOffsetsFile(f, 'raw-headlines')).toThrow(/:1: expected topic,partition,offset/);
    rmSync(dir, { recursive: true });
  });

  it('--older-than takes d, h, m, s', () => {
    expect(parseAge('7d')).toBe(7 * 86_400_000);
    expect(parseAge('30m')).toBe(1_800_000);
    expect(() => parseAge('7 days')).toThrow(/expected a number and a unit/);
  });
});

describe('generations in the materializer and the stages', () => {
  const block = (generation: number) => ({ generation, at: 1, category: 'c', confidence: 1, model: 'm', version: 'v' });
  const row = (g: number): ItemRow =>
    ({
      itemId: 'a',
      headline: {},
      job: null,
      classify: block(g),
      cluster: null,
      embed: null,
      index: null,
    }) as unknown as ItemRow;

  it('a block of a generation newer than the serving one is parked, not applied', () => {
    const serving = new Map([['classify', 1]]);
    const now = parkUnserved([row(1)], serving);
    expect(now.parked).toEqual([]);
    expect(now.items[0]?.classify?.generation).toBe(1);
    const later = parkUnserved([row(2)], serving);
    expect(later.items[0]?.classify).toBeNull();
    expect(later.parked).toMatchObject([{ itemId: 'a', stage: 'classify', generation: 2 }]);
    // nothing serving yet (never replayed): newest wins as before
    expect(parkUnserved([row(2)], new Map()).parked).toEqual([]);
  });

  it('one batch with both generations of an item: items gets the serving one, the newer one is parked', () => {
    const records = pipelineFixture({ items: 4, regenEvery: 2 })
      .filter((r) => r.record === 'ClassifiedHeadline')
      .map((r) => ({ stage: 'classify', value: r.value }) as MaterializedRecord);
    const folded = foldBatch(records).items;
    expect(folded.filter((r) => r.classify?.generation === 2)).toHaveLength(2);
    const { items, parked } = parkUnserved(folded, new Map([['classify', 1]]));
    expect(items.map((r) => r.classify?.generation)).toEqual([1, 1, 1, 1]);
    expect(parked.map((p) => p.generation)).toEqual([2, 2]);
    // once generation 2 serves, it is the one applied and nothing is parked
    const served = parkUnserved(folded, new Map([['classify', 2]]));
    expect(served.items.map((r) => r.classify?.generation).sort()).toEqual([1, 1, 2, 2]);
    expect(served.parked).toEqual([]);
  });

  it('a stage generation reads only its input generation', async () => {
    const stage = defineStage<{ id: string; run: { generation: number } }, { id: string }>({
      name: 'pass',
      generation: 2,
      model: { name: 'm', version: '1' },
      input: { topic: 'in', codec: jsonCodec() },
      output: { topic: 'out', codec: jsonCodec() },
      dlq: { topic: 'dlq' },
      map: (r) => ({ id: r.value.id }),
    });
    const filtered = onlyInputGeneration(stage, 2, (v) => v.run);
    const r = await runInMemory(filtered, [
      { key: 'a', value: { id: 'a', run: { generation: 1 } } },
      { key: 'b', value: { id: 'b', run: { generation: 2 } } },
    ]);
    expect(r.outputs.map((o) => o.value)).toEqual([{ id: 'b' }]);
    expect(onlyInputGeneration(stage, undefined, (v) => v.run)).toBe(stage);
  });
});
