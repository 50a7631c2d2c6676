// The offset bookkeeping of one partition loop, against a fake sink and group (no broker):
// re-deliveries are dropped, a failed commit rewinds to the committed offset, and a new owner
// starts where the group's committed offset says.
import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { Breaker } from '../src/breaker.ts';
import { stringCodec } from '../src/codec.ts';
import { defineStage } from '../src/define-stage.ts';
import type { Commit, Sink } from '../src/eos.ts';
import { TransactionError } from '../src/errors.ts';
import { PartitionWorker, type WorkerHost } from '../src/partition-worker.ts';

const msg = (offset: number): KafkaMessage => ({
  key: Buffer.from(`k${offset}`),
  value: Buffer.from(`v${offset}`),
  offset: String(offset),
  timestamp: '0',
  attributes: 0,
  headers: {},
});
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => msg(from + i));

function fixture(
  opts: {
    committed?: number;
    failCommits?: number;
    markers?: boolean;
    blockMs?: number;
    gate?: Promise<void>;
    batchBytes?: number;
  } = {},
) {
  const stage = defineStage({
    name: 'pw',
    generation: 1,
    model: { name: 'm', version: '1' },
    input: { topic: 'in', codec: stringCodec() },
    output: { topic: 'out', codec: stringCodec() },
    dlq: { topic: 'dlq' },
    config: {
      batch: { maxRecords: 10, maxBytes: opts.batchBytes ?? 1 << 20, lingerMs: 5 },
      buffer: { maxRecords: 25, maxBytes: 1 << 20 },
    },
    map: (r) => r.value.toUpperCase(),
    onAssigned: (p) => {
      state.assigned.push(p.committedOffset);
    },
  });
  const state = {
    assigned: [] as number[],
    committed: opts.committed ?? -1,
    failCommits: opts.failCommits ?? 0,
    outputs: [] as string[],
    batchSizes: [] as number[],
    seeks: [] as number[],
    pauses: 0,
    resumes: 0,
    inits: 0,
  };
  const sink: Sink = {
    async init() {
      state.inits++;
    },
    async commit(c: Commit) {
      await opts.gate;
      if (state.failCommits > 0) {
        state.failCommits--;
        throw new TransactionError('fenced (test)');
      }
      for (const t of c.topicMessages)
        if (t.topic === 'out') {
          state.outputs.push(...t.messages.map((m) => String(m.value)));
          state.batchSizes.push(t.messages.length);
        }
      state.committed = Number(c.offsets[0]?.offset);
    },
    async close() {},
  };
  const host: WorkerHost = {
    stage: stage as never,
    newSink: () => sink,
    committedOffset: async () => state.committed,
    seek: (_t, _p, o) => state.seeks.push(o),
    pause: () => state.pauses++,
    resume: () => state.resumes++,
    breaker: (n) => new Breaker(n),
    onCommit() {},
    advanceOverMarkers: opts.markers ?? false,
    blockMs: opts.blockMs ?? 0,
  };
  return { state, worker: new PartitionWorker(host, 'in', 0) };
}

const until = async (cond: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('PartitionWorker batches', () => {
  it('cuts a transaction at batch.maxBytes of input (keys + values + 64 B a record)', async () => {
    // each record here counts 2 + 2 + 64 = 68 B: three fit in 210 B, four do not
    const { state, worker } = fixture({ batchBytes: 210 });
    worker.push(range(0, 10));
    await until(() => state.committed === 10);
    await worker.close(1_000);
    expect(state.outputs).toEqual(range(0, 10).map((m) => `V${m.offset}`));
    expect(Math.max(...state.batchSizes)).toBe(3);
    expect(state.batchSizes.reduce((a, b) => a + b, 0)).toBe(10);
  });
});

describe('PartitionWorker offsets', () => {
  it('commits every record once when the consumer re-delivers after a rebalance', async () => {
    const { state, worker } = fixture();
    worker.push(range(0, 20));
    await until(() => state.committed === 20);
    worker.invalidate(); // rebalance kept the partition; the consumer restarts from an older offset
    worker.push(range(5, 30));
    await until(() => state.committed === 30);
    await worker.close(1_000);
    expect(state.outputs).toEqual(range(0, 30).map((m) => `V${m.offset}`));
  });

  it('rewinds to the committed offset after a failed commit and never commits a record twice', async () => {
    const { state, worker } = fixture({ failCommits: 1 });
    worker.push(range(0, 20));
    await until(() => state.seeks.length > 0);
    expect(state.seeks).toEqual([0]); // nothing was committed: re-read from where the failed batch began
    expect(state.inits).toBe(2); // a new producer made the failed transaction final
    expect(state.assigned).toEqual([-1, 0]); // the stage restores again, from where processing resumes
    worker.push(range(0, 20)); // the consumer re-reads after the seek
    await until(() => state.committed === 20);
    await worker.close(1_000);
    expect(state.outputs).toEqual(range(0, 20).map((m) => `V${m.offset}`));
  });

  it('starts a new assignment at the group committed offset, dropping what is below it', async () => {
    const { state, worker } = fixture({ committed: 12 });
    worker.push(range(8, 20)); // the consumer fetched from a stale position
    await until(() => state.committed === 20);
    await worker.close(1_000);
    expect(state.outputs).toEqual(range(12, 20).map((m) => `V${m.offset}`));
    expect(state.assigned).toEqual([12]);
  });

  it('re-reads from the stored offset when the consumer started past it (a store keeps the offsets, not the group)', async () => {
    const { state, worker } = fixture({ committed: 5 });
    worker.push(range(10, 20)); // the group's offset is ahead of the store's
    await until(() => state.seeks.length > 0);
    expect(state.seeks).toEqual([5]);
    worker.push(range(5, 20));
    await until(() => state.committed === 20);
    await worker.close(1_000);
    expect(state.outputs).toEqual(range(5, 20).map((m) => `V${m.offset}`));
  });

  it('commits the offset over a fetch of only transaction markers when told to, and only contiguously', async () => {
    const { state, worker } = fixture({ markers: true });
    worker.push(range(0, 10));
    await until(() => state.committed === 10);
    worker.pushEmpty(12, 12); // a gap (10, 11 not fetched): no advance
    worker.pushEmpty(10, 11); // the commit marker after offset 9 and one more
    await until(() => state.committed === 12);
    await worker.close(1_000);
    expect(state.outputs).toEqual(range(0, 10).map((m) => `V${m.offset}`));
  });

  it('pauses when the buffer passes its bound and resumes once drained', async () => {
    const { state, worker } = fixture();
    worker.push(range(0, 40));
    expect(state.pauses).toBe(1);
    await until(() => state.committed === 40);
    expect(state.resumes).toBe(1);
    await worker.close(1_000);
  });

  it('holds the consumer while the buffer is full instead of pausing, and lets go below half', async () => {
    const { state, worker } = fixture({ blockMs: 60_000 });
    worker.push(range(0, 40));
    expect(state.pauses).toBe(0);
    let admitted = false;
    const admit = worker.admit().then(() => {
      admitted = true;
    });
    await admit;
    // let go once the buffer (bound 25) is below half: at least 28 of 40 records taken
    expect(worker.buffered).toBeLessThan(13);
    expect(admitted).toBe(true);
    await until(() => state.committed === 40);
    expect(state.pauses).toBe(0);
    await worker.close(1_000);
    expect(state.outputs).toEqual(range(0, 40).map((m) => `V${m.offset}`));
  });

  it('pauses after holding the consumer for blockMs when the buffer does not drain, and resumes later', async () => {
    let open: () => void = () => {};
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const { state, worker } = fixture({ blockMs: 20, gate });
    worker.push(range(0, 40));
    await worker.admit(); // the first batch's commit is stuck: the buffer stays full
    expect(state.pauses).toBe(1);
    open();
    await until(() => state.committed === 40);
    expect(state.resumes).toBe(1);
    await worker.close(1_000);
  });

  it('lets a held consumer go when the worker closes', async () => {
    const gate = new Promise<void>(() => {});
    const { worker } = fixture({ blockMs: 60_000, gate });
    worker.push(range(0, 40));
    const admit = worker.admit();
    await worker.close(10);
    await admit;
  });
});
