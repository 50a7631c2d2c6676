import { performance } from 'node:perf_hooks';
import type { Breaker } from './breaker.ts';
import type { InMessage as KafkaMessage } from './client/types.ts';
import type { Stage } from './define-stage.ts';
import type { RawRecord } from './dlq.ts';
import type { Sink } from './eos.ts';
import { BreakerOpenError } from './errors.ts';
import { publish } from './instrumentation.ts';
import { processBatch, ShutdownError } from './process-batch.ts';
import { groupByTopic, publishCommitted, sizeOf, toRaw } from './raw.ts';
import { sleep } from './retry.ts';

/** What a partition loop needs from the stage around it. */
export interface WorkerHost {
  stage: Stage<unknown, unknown>;
  newSink(topic: string, partition: number): Sink;
  /** the group's committed offset for the partition, -1 when there is none */
  committedOffset(topic: string, partition: number): Promise<number>;
  seek(topic: string, partition: number, offset: number): void;
  pause(topic: string, partition: number): void;
  resume(topic: string, partition: number): void;
  breaker(name: string): Breaker;
  onCommit(worker: PartitionWorker): void;
  /** commit offsets over fetches that held only transaction markers (store stages: lag reaches 0) */
  advanceOverMarkers: boolean;
  /**
   * A full buffer holds the consumer in `admit` (kafkajs' own backpressure: no fetch until the
   * handler returns) for up to this long before pausing the partition; 0: pause at once.
   */
  blockMs: number;
}

/**
 * One input partition: a bounded buffer filled by the consumer, and a loop that takes batches
 * (max records or max linger), processes them and commits each one (outputs + offset) before
 * taking the next. Partitions run concurrently; a partition that retries or waits on an open
 * breaker holds up only itself.
 *
 * Offsets are guarded so that no record is committed twice or skipped: `fetchedUpTo` drops
 * records the consumer re-delivers after a rebalance, and `verify` (after every (re)assignment
 * and every failed commit) re-reads the committed offset once this partition's producer is
 * registered (so no older owner can still commit) and seeks the consumer there when the buffer
 * does not continue from it.
 */
export class PartitionWorker {
  private buffer: RawRecord[] = [];
  private bufferedBytes = 0;
  private fetchedUpTo = -1;
  /** next offset to commit, as far as this worker knows (-1: unknown) */
  next = -1;
  private verified = false;
  /** after a failed commit: where to resume when the group has no committed offset */
  private resyncFrom: number | undefined;
  private sink: Sink | undefined;
  private readonly pauses = new Set<string>();
  private closing = false;
  private readonly soft = new AbortController();
  private readonly hard = new AbortController();
  private wake: (() => void) | undefined;
  /** `admit` waiting for the buffer to drain below half its bound */
  private drained: (() => void) | undefined;
  private firstArrival = 0;
  private failures = 0;
  private inflightFirst: string | undefined;
  /** a fetch of only transaction markers moved the position here: commit it when nothing else is due */
  private markerEnd = -1;
  private readonly done: Promise<void>;
  committedBatches = 0;
  /** log end offset of the input partition, as of the last fetch */
  highWatermark = -1;
  lastCommitAt = 0;

  constructor(
    private readonly host: WorkerHost,
    readonly topic: string,
    readonly partition: number,
  ) {
    this.done = this.loop();
  }

  get paused(): boolean {
    return this.pauses.size > 0;
  }

  /** records between the last commit and the log end (-1 until both are known) */
  get lag(): number {
    return this.highWatermark >= 0 && this.next >= 0 ? Math.max(0, this.highWatermark - this.next) : -1;
  }

  get buffered(): number {
    return this.buffer.length;
  }

  /** from the consumer: append what continues the buffer, drop what it already has */
  push(messages: KafkaMessage[], highWatermark?: number): void {
    if (this.closing) return;
    if (highWatermark !== undefined && Number.isFinite(highWatermark)) this.highWatermark = highWatermark;
    for (const m of messages) {
      const off = Number(m.offset);
      if (off < this.fetchedUpTo || off < this.next) continue;
      const r = toRaw(this.topic, this.partition, m);
      if (this.buffer.length === 0) this.firstArrival = performance.now();
      this.buffer.push(r);
      this.bufferedBytes += sizeOf(r);
      this.fetchedUpTo = off + 1;
    }
    if (this.full && this.host.blockMs <= 0) this.addPause('buffer full');
    this.wake?.();
  }

  private get full(): boolean {
    const { maxRecords, maxBytes } = this.host.stage.config.buffer;
    return this.buffer.length >= maxRecords || this.bufferedBytes >= maxBytes;
  }

  private get belowHalf(): boolean {
    const { maxRecords, maxBytes } = this.host.stage.config.buffer;
    return this.buffer.length < maxRecords / 2 && this.bufferedBytes < maxBytes / 2;
  }

  /**
   * From the consumer, after `push`: while the buffer is full, hold the consumer's handler until it
   * is below half (or the worker closes), at most `blockMs`; then pause the partition. Why not pause
   * at once: kafkajs only looks at a resumed partition with its next fetch, and that fetch parks on
   * the broker for maxWaitTime when every other partition is at its end, or is not sent at all but
   * slept for maxWaitTime when every partition is paused: with a 2 s idle wait, a stage under load
   * spent half its time there. A held handler just delays the next fetch, and a partition resumed
   * this way is in it.
   */
  async admit(): Promise<void> {
    if (this.closing || !this.full || this.host.blockMs <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    const drained = await new Promise<boolean>((resolve) => {
      this.drained = () => resolve(true);
      timer = setTimeout(() => resolve(false), this.host.blockMs);
    });
    clearTimeout(timer);
    this.drained = undefined;
    // still full after blockMs (a slow transform, an open breaker): stop fetching it, free the consumer
    if (!drained && !this.closing && this.full) this.addPause('buffer full');
  }

  private release() {
    if (this.drained && (this.closing || this.belowHalf)) this.drained();
  }

  /** from the consumer: a fetch that held only control records (commit markers) or aborted ones */
  pushEmpty(firstOffset: number, lastOffset: number): void {
    if (this.closing || !this.host.advanceOverMarkers) return;
    // contiguous with what this worker has: nothing in between was skipped
    if (this.fetchedUpTo < 0 || firstOffset > this.fetchedUpTo || lastOffset + 1 <= this.fetchedUpTo) return;
    this.fetchedUpTo = lastOffset + 1;
    this.markerEnd = lastOffset + 1;
    this.wake?.();
  }

  private get markerDue(): boolean {
    return this.markerEnd > this.next && this.next >= 0 && this.buffer.length === 0;
  }

  /** after a rebalance that kept this partition: check the committed offset before the next batch */
  invalidate(): void {
    this.verified = false;
  }

  /** stop taking batches; let the open one finish within `graceMs`, then abort it; close the producer */
  async close(graceMs: number): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.soft.abort();
      this.wake?.();
      this.release();
    }
    const timer = setTimeout(() => this.hard.abort(), graceMs);
    let giveUp: NodeJS.Timeout | undefined;
    try {
      // a transform that never returns cannot hold the shutdown past the grace period
      await Promise.race([this.done, new Promise<void>((r) => (giveUp = setTimeout(r, graceMs + 1_000)))]);
    } finally {
      clearTimeout(timer);
      clearTimeout(giveUp);
      await this.sink?.close();
      this.sink = undefined;
      try {
        await this.host.stage.onRevoked?.({ topic: this.topic, partition: this.partition });
      } catch (e) {
        publish('error', {
          stage: this.host.stage.name,
          topic: this.topic,
          partition: this.partition,
          where: 'onRevoked',
          error: e,
        });
      }
    }
  }

  private addPause(reason: string) {
    const was = this.pauses.size > 0;
    this.pauses.add(reason);
    if (!was) {
      this.host.pause(this.topic, this.partition);
      this.backpressure(true, reason);
    }
  }

  private removePause(reason: string) {
    if (!this.pauses.delete(reason) || this.pauses.size > 0) return;
    if (!this.closing) this.host.resume(this.topic, this.partition);
    this.backpressure(false, reason);
  }

  private backpressure(paused: boolean, reason: string) {
    publish('backpressure', {
      stage: this.host.stage.name,
      topic: this.topic,
      partition: this.partition,
      paused,
      reason,
      bufferedRecords: this.buffer.length,
      bufferedBytes: this.bufferedBytes,
    });
  }

  private clearBuffer() {
    this.buffer = [];
    this.bufferedBytes = 0;
    this.removePause('buffer full');
    this.release();
  }

  private waitForBatch(): Promise<void> {
    const { maxRecords, maxBytes, lingerMs } = this.host.stage.config.batch;
    return new Promise((resolve) => {
      const check = () => {
        const full = this.buffer.length >= maxRecords || this.bufferedBytes >= maxBytes;
        if (this.closing || full || !this.verified || this.markerDue) return done();
        if (this.buffer.length > 0) {
          const left = this.firstArrival + lingerMs - performance.now();
          if (left <= 0) return done();
          clearTimeout(timer);
          timer = setTimeout(check, left);
        }
      };
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      this.wake = check;
      check();
    });
  }

  private async loop(): Promise<void> {
    // fence on assignment: register this partition's producer before the first batch arrives
    while (!this.closing) {
      try {
        if (!this.verified) await this.verify();
        await this.waitForBatch();
        if (this.closing) break;
        if (this.verified && this.markerDue) await this.handle([]);
        if (!this.verified || this.buffer.length === 0) continue;
        await this.handle(this.take());
        this.failures = 0;
      } catch (e) {
        if (this.closing && (e instanceof ShutdownError || this.hard.signal.aborted)) break;
        this.failures++;
        publish('error', {
          stage: this.host.stage.name,
          topic: this.topic,
          partition: this.partition,
          where: 'batch',
          error: e,
        });
        await this.reset();
        await sleep(Math.min(10_000, 100 * 2 ** Math.min(this.failures, 7)), this.soft.signal);
      }
    }
  }

  private take(): RawRecord[] {
    const { maxRecords, maxBytes } = this.host.stage.config.batch;
    // up to maxRecords and maxBytes (at least one record, however large)
    const last = Math.min(this.buffer.length, maxRecords);
    let n = 0;
    let bytes = 0;
    while (n < last) {
      const size = sizeOf(this.buffer[n] as RawRecord);
      if (n > 0 && bytes + size > maxBytes) break;
      bytes += size;
      n++;
    }
    const batch = this.buffer.splice(0, n);
    this.bufferedBytes -= bytes;
    if (this.buffer.length > 0) this.firstArrival = performance.now();
    if (this.belowHalf) {
      this.removePause('buffer full');
      this.release();
    }
    return batch;
  }

  /** a commit failed (fenced, broker gone, timeout): its outcome is unknown, so start over from the broker's truth */
  private async reset(): Promise<void> {
    await this.sink?.close();
    this.sink = undefined;
    if (this.resyncFrom === undefined) {
      const from = this.next >= 0 ? this.next : (this.inflightFirst ?? this.buffer[0]?.offset);
      if (from !== undefined) this.resyncFrom = Number(from);
    }
    this.inflightFirst = undefined;
    this.markerEnd = -1;
    this.clearBuffer();
    this.verified = false;
  }

  private seek(target: number) {
    publish('seek', {
      stage: this.host.stage.name,
      topic: this.topic,
      partition: this.partition,
      from: this.fetchedUpTo,
      to: target,
    });
    this.host.seek(this.topic, this.partition, target);
    this.fetchedUpTo = target;
  }

  private async verify(): Promise<void> {
    let fresh = false;
    if (!this.sink) {
      const sink = this.host.newSink(this.topic, this.partition);
      await sink.init();
      this.sink = sink;
      fresh = true;
    }
    const committed = await this.host.committedOffset(this.topic, this.partition);
    const resync = this.resyncFrom;
    if (resync !== undefined) {
      // a commit failed and its outcome was unknown; the new producer's registration has made it
      // final, so the committed offset is the truth (never below what we know we committed)
      const target = Math.max(committed, resync);
      this.clearBuffer();
      this.seek(target);
      this.next = target;
    } else if (committed > this.next) {
      // a new assignment, or someone else got further: drop what is below the committed offset,
      // and re-read from it when the buffer does not reach it
      const before = this.buffer.length;
      this.buffer = this.buffer.filter((r) => Number(r.offset) >= committed);
      if (this.buffer.length !== before) this.bufferedBytes = this.buffer.reduce((s, r) => s + sizeOf(r), 0);
      this.release();
      // the consumer started elsewhere (a store keeps the offsets, not the group): a gap is re-read
      const head = this.buffer[0];
      const gap = head ? Number(head.offset) > committed : this.fetchedUpTo > committed;
      if (this.fetchedUpTo < committed || gap) {
        this.clearBuffer();
        this.seek(committed);
      }
      this.next = committed;
    }
    // committed < next: our own last commit is not visible to OffsetFetch yet (kafkajs has no
    // KIP-447 requireStable); our position is the right one
    this.resyncFrom = undefined;
    // fenced, and the offset is known: let the stage restore what it keeps for this partition
    if (fresh)
      await this.host.stage.onAssigned?.({ topic: this.topic, partition: this.partition, committedOffset: this.next });
    this.verified = true;
  }

  private async handle(batch: RawRecord[]): Promise<void> {
    const stage = this.host.stage;
    const t0 = performance.now();
    this.inflightFirst = batch[0]?.offset;
    let result: Awaited<ReturnType<typeof processBatch>> = {
      outputs: [],
      values: [],
      dead: [],
      extra: [],
      transformMs: 0,
    };
    while (batch.length > 0) {
      try {
        result = await processBatch(stage, batch, { breaker: this.host.breaker, signal: this.soft.signal });
        break;
      } catch (e) {
        if (!(e instanceof BreakerOpenError)) throw e;
        // the dependency is down, not the records: hold this partition until a trial call is due
        this.addPause(`breaker ${e.breaker} open`);
        await sleep(e.retryAfterMs, this.soft.signal);
        this.removePause(`breaker ${e.breaker} open`);
        if (this.closing) throw new ShutdownError();
      }
    }
    const last = batch[batch.length - 1];
    // an empty batch moves the offset over transaction markers
    const nextOffset = String(last ? Number(last.offset) + 1 : this.markerEnd);
    const tc = performance.now();
    await this.sink?.commit(
      {
        topicMessages: [
          ...(stage.output ? [{ topic: stage.output.topic, messages: result.outputs }] : []),
          { topic: stage.dlq.topic, messages: result.dead.map((d) => d.message) },
          ...groupByTopic(result.extra),
        ],
        offsets: [{ topic: this.topic, partition: this.partition, offset: nextOffset }],
        values: result.values,
        dead: result.dead.map((d) => d.letter),
        records: batch.length,
      },
      this.hard.signal,
    );
    const end = performance.now();
    this.next = Number(nextOffset);
    this.inflightFirst = undefined;
    this.committedBatches++;
    this.lastCommitAt = Date.now();
    this.host.onCommit(this);
    publishCommitted(stage, {
      batch,
      result,
      partition: this.partition,
      batchMs: end - t0,
      commitMs: end - tc,
      lag: this.lag,
    });
  }
}
