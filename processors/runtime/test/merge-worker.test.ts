// The merged loop (one owner of every partition, the cluster stage's runtime) against a fake sink
// and group (no broker): idle, it sleeps until a fetch pokes it instead of polling (issue 14).
import type { KafkaMessage } from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Breaker } from '../src/breaker.ts';
import { stringCodec } from '../src/codec.ts';
import { defineStage } from '../src/define-stage.ts';
import type { Commit, Sink } from '../src/eos.ts';
import { IDLE_RECHECK_MS, type MergeHost, MergeWorker } from '../src/merge-worker.ts';

const msg = (offset: number): KafkaMessage => ({
  key: Buffer.from(`k${offset}`),
  value: Buffer.from(`v${offset}`),
  offset: String(offset),
  timestamp: String(offset),
  attributes: 0,
  headers: {},
});

function fixture() {
  const stage = defineStage({
    name: 'mw',
    generation: 1,
    model: { name: 'm', version: '1' },
    input: { topic: 'in', codec: stringCodec() },
    output: { topic: 'out', codec: stringCodec() },
    dlq: { topic: 'dlq' },
    config: {
      batch: { maxRecords: 10, maxBytes: 1 << 20, lingerMs: 5 },
      buffer: { maxRecords: 25, maxBytes: 1 << 20 },
    },
    merge: { orderBy: (r) => Number(r.timestamp) },
    map: (r) => r.value.toUpperCase(),
  });
  const state = { outputs: [] as string[], active: false };
  const sink: Sink = {
    async init() {},
    async commit(c: Commit) {
      for (const t of c.topicMessages)
        if (t.topic === 'out') state.outputs.push(...t.messages.map((m) => String(m.value)));
    },
    async close() {},
  };
  const host: MergeHost = {
    stage: stage as never,
    kafka: {} as never,
    newSink: () => sink,
    committedOffsets: async () => new Map([[0, -1]]),
    topicEnds: async () => new Map([[0, { low: 0, high: 0 }]]),
    seek() {},
    pause() {},
    resume() {},
    breaker: (n) => new Breaker(n),
    onActive: () => {
      state.active = true;
    },
  };
  return { state, worker: new MergeWorker(host) };
}

const until = async (cond: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe('MergeWorker idle', () => {
  it('arms no timer while idle, and a fetch wakes it at once', async () => {
    const { state, worker } = fixture();
    worker.assign([0]);
    await until(() => state.active && worker.active);
    await new Promise((r) => setTimeout(r, 50));
    // every timer the worker arms from here on goes through this spy
    const timers = vi.spyOn(globalThis, 'setTimeout');
    await new Promise((r) => setImmediate(r));
    const before = timers.mock.calls.length;
    await new Promise((r) => setTimeout(r, 700));
    // before: a 200 ms poll (three or more timers in 700 ms); now only the safety timer, armed before
    const armed = timers.mock.calls.slice(before).filter(([, ms]) => ms !== 700);
    expect(armed).toHaveLength(0);
    expect(IDLE_RECHECK_MS).toBeGreaterThanOrEqual(1_000);
    timers.mockRestore();

    const t0 = Date.now();
    worker.push(0, [msg(0), msg(1)], 1, 2, 0);
    await until(() => state.outputs.length === 2);
    expect(Date.now() - t0).toBeLessThan(IDLE_RECHECK_MS / 2);
    expect(state.outputs).toEqual(['V0', 'V1']);
    await worker.close(1_000);
  });
});
