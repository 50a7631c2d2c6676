import { runInMemory } from '@feedlog/runtime';
import { type EmbeddedHeadline, sampleRecords, vectorToBytes } from '@feedlog/schemas';
import { refCodec, tempDirs } from '@feedlog/test';
import { describe, expect, it } from 'vitest';
import { EmbeddedIndex } from '../src/embedded.ts';
import { indexStage, OP_HEADER, RETRACT } from '../src/stage.ts';
import type { VectorIndex } from '../src/types.ts';

const tmp = tempDirs('feedlog-index-stage-');

function makeStage(index: VectorIndex) {
  const stage = indexStage({
    index,
    generation: 4,
    config: { breaker: { failureThreshold: 3, halfOpenAfterMs: 30 }, retry: { initialDelayMs: 1, maxDelayMs: 2 } },
  });
  stage.input.codec = refCodec();
  if (!stage.output) throw new Error('the stage has an output topic');
  stage.output.codec = refCodec();
  stage.dlq.codec = refCodec();
  return stage;
}

const dims = 8;
function rec(i: number, vector?: Buffer, d = dims): EmbeddedHeadline {
  const s = sampleRecords().EmbeddedHeadline;
  const v = Float32Array.from({ length: dims }, (_, j) => (j === i % dims ? 1 : 0.01 * (i + 1)));
  return {
    ...s,
    item_id: `item-${i}`,
    headline: { ...s.headline, title: `title ${i}` },
    embedding: { ...s.embedding, vector: vector ?? vectorToBytes(v), dimensions: d },
  };
}

function tmpIndex() {
  const dir = tmp();
  return new EmbeddedIndex({ dir });
}

describe('index stage (in-memory driver)', () => {
  it('indexes records and emits IndexedHeadline with the collection, generation and indexed_at', async () => {
    const index = tmpIndex();
    const t0 = Date.now();
    const r = await runInMemory(
      makeStage(index),
      [0, 1, 2].map((i) => ({ key: `item-${i}`, value: rec(i) })),
    );
    expect(r.dead).toEqual([]);
    expect(r.outputs.map((o) => o.value.item_id)).toEqual(['item-0', 'item-1', 'item-2']);
    const out = r.outputs[0]!.value;
    expect(out.index.collection).toBe('headlines_g4');
    expect(out.index.run.generation).toBe(4);
    expect(out.index.run.model_name).toBe('embedded-index');
    expect(out.index.indexed_at).toBeGreaterThanOrEqual(t0);
    expect(out.embedding).toEqual({ dimensions: dims, run: rec(0).embedding.run });
    expect(await index.count(4)).toBe(3);
    expect((await index.search(4, [0, 1, 0, 0, 0, 0, 0, 0], { limit: 1 }))[0]!.itemId).toBe('item-1');
  });

  it('poison records (bad vector bytes, other dimensions) are dead-lettered alone', async () => {
    const index = tmpIndex();
    const r = await runInMemory(makeStage(index), [
      { key: 'item-0', value: rec(0) },
      { key: 'item-1', value: rec(1, Buffer.from([1, 2, 3])) },
      { key: 'item-2', value: rec(2, vectorToBytes(new Float32Array(4)), 4) },
      { key: 'item-3', value: rec(3) },
    ]);
    expect(r.outputs.map((o) => o.value.item_id)).toEqual(['item-0', 'item-3']);
    expect(r.dead.map((d) => [d.error_class, d.retriable])).toEqual([
      ['PoisonRecordError', false],
      ['PoisonRecordError', false],
    ]);
    expect(r.dead[1]!.error_message).toMatch(/4 dimensions, headlines_g4 holds 8/);
    expect(await index.count(4)).toBe(2);
  });

  it('order within a batch is kept: upsert then retract leaves the item out; the retraction is forwarded', async () => {
    const index = tmpIndex();
    const r = await runInMemory(makeStage(index), [
      { key: 'item-0', value: rec(0) },
      { key: 'item-1', value: rec(1) },
      { key: 'item-0', value: rec(0), headers: { [OP_HEADER]: RETRACT } },
      { key: 'item-2', value: rec(2) },
    ]);
    expect(await index.count(4)).toBe(2);
    const hits = await index.search(4, [1, 0, 0, 0, 0, 0, 0, 0], { limit: 5 });
    expect(hits.map((h) => h.itemId).sort()).toEqual(['item-1', 'item-2']);
    expect(r.outputs.map((o) => [o.value.item_id, o.headers[OP_HEADER] ?? ''])).toEqual([
      ['item-0', ''],
      ['item-1', ''],
      ['item-0', RETRACT],
      ['item-2', ''],
    ]);
  });

  it('a store outage opens the breaker: the batch waits instead of dead-lettering, then completes', async () => {
    const real = tmpIndex();
    let down = true;
    let calls = 0;
    const flaky: VectorIndex = Object.assign(Object.create(real) as VectorIndex, {
      upsert: async (gen: number, pts: Parameters<VectorIndex['upsert']>[1]) => {
        calls++;
        if (down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6333'), { code: 'ECONNREFUSED' });
        return real.upsert(gen, pts);
      },
    });
    setTimeout(() => {
      down = false;
    }, 300);
    const r = await runInMemory(
      makeStage(flaky),
      [0, 1, 2, 3].map((i) => ({ key: `item-${i}`, value: rec(i) })),
    );
    expect(r.dead).toEqual([]);
    expect(r.outputs).toHaveLength(4);
    expect(await real.count(4)).toBe(4);
    // without the breaker, 300 ms of 1–2 ms backoffs would have burnt all 10 attempts (and dead-lettered):
    // with it, the driver waits out the open circuit (BreakerOpenError) and only half-open trials call the store
    expect(calls).toBeGreaterThan(3);
    expect(calls).toBeLessThan(60);
  });
});
