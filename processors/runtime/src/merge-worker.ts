import { performance } from 'node:perf_hooks';
import type { Kafka } from 'kafkajs';
import type { Breaker } from './breaker.ts';
import type { InMessage as KafkaMessage } from './client/types.ts';
import type { Stage } from './define-stage.ts';
import type { RawRecord } from './dlq.ts';
import type { Sink } from './eos.ts';
import type { PartitionHealth } from './health.ts';
import { publish } from './instrumentation.ts';
import { type BatchResult, processBatch } from './process-batch.ts';
import { groupByTopic, publishCommitted, sizeOf, toRaw } from './raw.ts';
import { sleep } from './retry.ts';

/**
 * With nothing buffered the loop sleeps until poked: a fetch (push / pushEmpty), an activation, a
 * commit settling or close all wake it. This timer is only a safety net. It was 200 ms, which kept
 * an idle cluster stage at five wake-ups a second (1.6 % of a core on a quiet machine, issue 14).
 */
export const IDLE_RECHECK_MS = 5_000;

/** What the merged loop needs from the stage around it. */
export interface MergeHost {
  stage: Stage<unknown, unknown>;
  kafka: Kafka;
  /** the one transactional producer of the instance */
  newSink(): Sink;
  /** the group's committed offsets of the input topic (-1: none) */
  committedOffsets(topic: string): Promise<Map<number, number>>;
  topicEnds(topic: string): Promise<Map<number, { low: number; high: number }>>;
  seek(topic: string, partition: number, offset: number): void;
  pause(topic: string, partitions?: number[]): void;
  resume(topic: string, partitions?: number[]): void;
  breaker(name: string): Breaker;
  /** the partitions are this instance's and the state is restored (or none were assigned) */
  onActive(): void;
}

interface PartitionBuf {
  records: (RawRecord & { t?: number })[];
  /** next offset expected from the consumer (drops re-deliveries and stale fetches) */
  expect: number;
  /** the last fetch reached the end of the partition (read_committed) */
  drained: boolean;
  /** since when the merge has been waiting for this partition (0: not waiting) */
  waitingSince: number;
  paused: boolean;
  /** log end offset as of the last fetch (-1: unknown) */
  high: number;
  /** next offset to commit (the last committed batch) */
  committed: number;
}

interface Prepared {
  batch: RawRecord[];
  epoch: number;
  t0: number;
  result: BatchResult;
  offsets: Map<number, number>;
}

/**
 * One loop for every partition of the input (a stage with `merge`): records of all partitions are
 * taken in (orderBy, partition, offset) order, waiting for a partition whose records exist but are
 * not fetched yet, so the order is a function of the log; each batch is one transaction of the one
 * producer with the offsets of every partition in it. On (re)assignment and after a failed batch:
 * fence, `onAssigned` (restore), seek to the committed offsets. Pipelined: batch k+1 is prepared
 * while batch k commits; if k fails, k+1 is dropped with it and the state is restored again.
 */
export class MergeWorker {
  private readonly topic: string;
  private readonly bufs = new Map<number, PartitionBuf>();
  private assigned: number[] = [];
  private epoch = 0;
  active = false;
  private restoring = false;
  private sink: Sink | undefined;
  private committedBatches = 0;
  private lastCommitAt = 0;
  private wake: (() => void) | undefined;
  private readonly stopCtl = new AbortController();
  private readonly hard = new AbortController();
  private activation: Promise<void> = Promise.resolve();
  private inflight: Promise<void> | undefined;
  private inflightError: { error: unknown } | undefined;
  private readonly done: Promise<void>;
  private readonly maxIdleMs: number;
  private readonly orderBy: (r: RawRecord) => number;

  constructor(private readonly host: MergeHost) {
    const merge = host.stage.merge;
    if (!merge) throw new TypeError(`stage ${host.stage.name} has no merge options`);
    this.topic = host.stage.input.topic;
    this.maxIdleMs = merge.maxIdleMs ?? 10_000;
    this.orderBy = merge.orderBy;
    this.done = this.loop();
  }

  get standby(): boolean {
    return this.assigned.length === 0;
  }

  private poke = () => this.wake?.();

  private time(r: RawRecord & { t?: number }): number {
    r.t ??= this.orderBy(r);
    return r.t;
  }

  /** a rebalance gave this instance `partitions` (sorted; none: hot standby) */
  assign(partitions: number[]): void {
    const same = partitions.length === this.assigned.length && partitions.every((p, i) => p === this.assigned[i]);
    this.assigned = partitions;
    // unchanged and running: keep the state and buffers (a takeover in between shows as a fenced commit)
    if (this.active && same) return;
    this.scheduleActivation();
  }

  push(partition: number, messages: KafkaMessage[], lastOffset: number, high: number, offsetLag: number): void {
    const b = this.bufs.get(partition);
    if (!b || this.restoring || this.stopCtl.signal.aborted) return;
    const lookahead = this.host.stage.merge?.lookahead;
    const fresh: RawRecord[] = [];
    for (const m of messages) {
      const off = Number(m.offset);
      if (off < b.expect) continue;
      const r = toRaw(this.topic, partition, m);
      b.records.push(r);
      if (lookahead) fresh.push(r);
      b.expect = off + 1;
      b.waitingSince = 0;
    }
    if (lookahead && fresh.length > 0) {
      try {
        lookahead(fresh);
      } catch (e) {
        publish('error', { stage: this.host.stage.name, topic: this.topic, where: 'lookahead', error: e });
      }
    }
    b.expect = Math.max(b.expect, lastOffset + 1);
    b.high = high;
    b.drained = offsetLag <= 0;
    if (b.records.length >= this.host.stage.config.buffer.maxRecords && !b.paused) {
      b.paused = true;
      this.host.pause(this.topic, [partition]);
      this.backpressure(partition, b, true);
    }
    this.poke();
  }

  /** a fetch of only control records: it still says how far the partition got */
  pushEmpty(partition: number, lastOffset: number, offsetLag: number): void {
    const b = this.bufs.get(partition);
    if (!b || this.restoring) return;
    b.expect = Math.max(b.expect, lastOffset + 1);
    b.drained = offsetLag <= 0;
    this.poke();
  }

  async close(graceMs: number): Promise<void> {
    this.stopCtl.abort();
    this.poke();
    const timer = setTimeout(() => this.hard.abort(), graceMs);
    let giveUp: NodeJS.Timeout | undefined;
    try {
      await Promise.race([this.done, new Promise<void>((r) => (giveUp = setTimeout(r, graceMs + 1_000)))]);
      await this.activation.catch(() => {});
    } finally {
      clearTimeout(timer);
      clearTimeout(giveUp);
      await this.sink?.close();
      this.sink = undefined;
      await Promise.resolve(this.host.stage.onRevoked?.({ topic: this.topic, partition: -1 })).catch((e: unknown) =>
        publish('error', { stage: this.host.stage.name, where: 'onRevoked', error: e }),
      );
    }
  }

  partitions(): PartitionHealth[] {
    return [...this.bufs].map(([partition, b]) => ({
      topic: this.topic,
      partition,
      buffered: b.records.length,
      paused: b.paused,
      nextOffset: b.committed,
      lag: b.high >= 0 ? Math.max(0, b.high - b.committed) : -1,
      committedBatches: this.committedBatches,
      lastCommitAt: this.lastCommitAt || null,
    }));
  }

  private backpressure(partition: number, b: PartitionBuf, paused: boolean) {
    publish('backpressure', {
      stage: this.host.stage.name,
      topic: this.topic,
      partition,
      paused,
      reason: 'buffer full',
      bufferedRecords: b.records.length,
      bufferedBytes: 0,
    });
  }

  private scheduleActivation() {
    const my = ++this.epoch;
    this.active = false;
    this.activation = this.activation.then(async () => {
      for (let attempt = 0; my === this.epoch && !this.stopCtl.signal.aborted; attempt++) {
        try {
          await this.activate(my);
          this.poke();
          return;
        } catch (e) {
          publish('error', { stage: this.host.stage.name, where: 'activate', error: e });
          await sleep(Math.min(10_000, 250 * 2 ** Math.min(attempt, 6)), this.stopCtl.signal);
        }
      }
    });
  }

  /** fence, restore, seek: the partitions are ours from here on */
  private async activate(my: number): Promise<void> {
    const { host, topic } = this;
    this.restoring = true;
    try {
      host.pause(topic);
      await this.sink?.close();
      this.sink = undefined;
      this.bufs.clear();
      if (this.assigned.length === 0) {
        host.onActive();
        return;
      }
      const sink = host.newSink();
      await sink.init();
      if (my !== this.epoch) return void (await sink.close());
      this.sink = sink;
      const committed = await host.committedOffsets(topic);
      const ends = await host.topicEnds(topic);
      const starts = this.assigned.map((p) => {
        const c = committed.get(p) ?? -1;
        const end = ends.get(p) ?? { low: 0, high: 0 };
        return { p, start: c >= 0 ? c : host.stage.config.fromBeginning ? end.low : end.high, high: end.high };
      });
      await host.stage.onAssigned?.({
        topic,
        partition: this.assigned[0] as number,
        partitions: [...this.assigned],
        committedOffset: committed.get(this.assigned[0] as number) ?? -1,
        kafka: host.kafka,
      });
      if (my !== this.epoch) return;
      for (const { p, start, high } of starts) {
        const b = { records: [], expect: start, drained: start >= high, waitingSince: 0, paused: false, high };
        this.bufs.set(p, { ...b, committed: start });
        host.seek(topic, p, start);
      }
      host.resume(topic);
      this.active = true;
      host.onActive();
    } finally {
      this.restoring = false;
    }
  }

  /**
   * Up to `max` records in (orderBy, partition, offset) order. Stops when a partition that is not
   * at its end has nothing buffered (its next record may come first), unless the merge has waited
   * `maxIdleMs` for it.
   */
  private take(max: number): RawRecord[] {
    const out: RawRecord[] = [];
    const now = performance.now();
    const parts = [...this.bufs.entries()];
    const heads = new Map<number, number>(parts.map(([p]) => [p, 0]));
    const maxBytes = this.host.stage.config.batch.maxBytes;
    let bytes = 0;
    while (out.length < max && bytes < maxBytes) {
      let best: RawRecord | undefined;
      let bestP = -1;
      let blocked = false;
      for (const [p, b] of parts) {
        const r = b.records[heads.get(p) ?? 0];
        if (!r) {
          if (b.drained) continue;
          if (b.waitingSince === 0) b.waitingSince = now;
          if (now - b.waitingSince < this.maxIdleMs) {
            blocked = true;
            break;
          }
          continue;
        }
        const t = this.time(r);
        if (!best || t < this.time(best) || (t === this.time(best) && p < bestP)) {
          best = r;
          bestP = p;
        }
      }
      if (blocked || !best) break;
      out.push(best);
      bytes += sizeOf(best);
      heads.set(bestP, (heads.get(bestP) ?? 0) + 1);
    }
    for (const [p, n] of heads) {
      const b = this.bufs.get(p);
      if (n === 0 || !b) continue;
      b.records.splice(0, n);
      if (b.paused && b.records.length < this.host.stage.config.buffer.maxRecords / 2) {
        b.paused = false;
        this.host.resume(this.topic, [p]);
        this.backpressure(p, b, false);
      }
    }
    return out;
  }

  private buffered(): number {
    let n = 0;
    for (const b of this.bufs.values()) n += b.records.length;
    return n;
  }

  private async waitForWork(): Promise<void> {
    const { maxRecords, lingerMs } = this.host.stage.config.batch;
    // linger: give the consumer time to fill a batch, but not past lingerMs after work appeared
    const first = performance.now();
    while (!this.stopCtl.signal.aborted && !this.inflightError) {
      const n = this.active ? this.buffered() : 0;
      if (n > 0 && (n >= maxRecords || performance.now() - first >= lingerMs)) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, n > 0 ? Math.max(1, lingerMs) : IDLE_RECHECK_MS);
        const self = this;
        function done() {
          clearTimeout(t);
          self.wake = undefined;
          resolve();
        }
        this.wake = done;
      });
    }
  }

  /** decode, transform (the stage's state changes in memory), encode: CPU, no broker */
  private async prepare(batch: RawRecord[]): Promise<Prepared> {
    const t0 = performance.now();
    const result = await processBatch(this.host.stage, batch, {
      breaker: this.host.breaker,
      signal: this.stopCtl.signal,
    });
    const offsets = new Map<number, number>();
    for (const r of batch) offsets.set(r.partition, Math.max(offsets.get(r.partition) ?? 0, Number(r.offset) + 1));
    return { batch, epoch: this.epoch, t0, result, offsets };
  }

  private async commit(p: Prepared): Promise<void> {
    const { stage } = this.host;
    const sink = this.sink;
    if (!sink || p.epoch !== this.epoch) throw new Error('partitions were reassigned during the batch');
    const tc = performance.now();
    await sink.commit(
      {
        topicMessages: [
          ...(stage.output ? [{ topic: stage.output.topic, messages: p.result.outputs }] : []),
          { topic: stage.dlq.topic, messages: p.result.dead.map((d) => d.message) },
          ...groupByTopic(p.result.extra),
        ],
        offsets: [...p.offsets].map(([partition, o]) => ({ topic: this.topic, partition, offset: String(o) })),
      },
      this.hard.signal,
    );
    this.committedBatches++;
    this.lastCommitAt = Date.now();
    let lag = 0;
    for (const [part, o] of p.offsets) {
      const b = this.bufs.get(part);
      if (b) b.committed = o;
    }
    for (const b of this.bufs.values()) lag += b.high >= 0 ? Math.max(0, b.high - b.committed) : 0;
    publishCommitted(stage, {
      batch: p.batch,
      result: p.result,
      partition: p.offsets.size === 1 ? (p.batch[0] as RawRecord).partition : -1,
      batchMs: performance.now() - p.t0,
      commitMs: performance.now() - tc,
      lag,
    });
  }

  private async settle(): Promise<void> {
    const f = this.inflight;
    this.inflight = undefined;
    if (f) await f;
    const failed = this.inflightError;
    this.inflightError = undefined;
    if (failed) throw failed.error;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    const pipeline = this.host.stage.merge?.pipeline ?? true;
    while (!this.stopCtl.signal.aborted) {
      try {
        if (this.inflightError) await this.settle();
        await this.waitForWork();
        if (this.stopCtl.signal.aborted) break;
        if (this.inflightError) await this.settle();
        if (!this.active) continue;
        const batch = this.take(this.host.stage.config.batch.maxRecords);
        if (batch.length === 0) {
          // blocked on a partition whose records are not fetched yet: wait for the consumer
          await sleep(Math.min(50, this.maxIdleMs), this.stopCtl.signal);
          continue;
        }
        const prepared = await this.prepare(batch);
        await this.settle();
        const c = this.commit(prepared).then(
          () => {
            failures = 0;
          },
          (e: unknown) => {
            this.inflightError = { error: e };
          },
        );
        this.inflight = c.finally(this.poke);
        if (!pipeline) await this.settle();
      } catch (e) {
        await this.settle().catch(() => {});
        if (this.stopCtl.signal.aborted) break;
        failures++;
        publish('error', { stage: this.host.stage.name, topic: this.topic, where: 'batch', error: e });
        // the state may hold changes that were never committed: restore it from where it is kept
        this.active = false;
        await sleep(Math.min(10_000, 100 * 2 ** Math.min(failures, 7)), this.stopCtl.signal);
        if (!this.stopCtl.signal.aborted) this.scheduleActivation();
      }
    }
    await this.settle().catch(() => {});
  }
}
