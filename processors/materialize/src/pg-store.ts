import type { OffsetStore, StoreBatch } from '@feedlog/runtime';
import { bulkhead } from 'cockatiel';
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { type FailureRow, failureFromDeadLetter, foldBatch, type StageRecord } from './rows.ts';
import type { Materialized } from './stage.ts';
import { type PartitionKey, readStoredOffset, writeBatch } from './store.ts';

export interface AppliedBatch {
  topic: string;
  partition: number;
  records: number;
  applied: number;
  failures: number;
  next: string;
  ms: number;
}

export interface PgStoreOptions {
  pool: pg.Pool;
  admin: Admin;
  groupId: string;
  /** PostgreSQL transactions at once (default 3); the rest wait their turn */
  concurrency?: number;
  /** at-least-once: offsets only observed in PostgreSQL, positions from the Kafka group (comparison only) */
  atLeastOnce?: boolean;
  onApplied?(b: AppliedBatch): void;
}

/**
 * The materializer's store: one PostgreSQL transaction per batch of one partition, holding the rows
 * and a compare-and-set of the partition's next offset in `consumer_offsets` (a zombie, or a batch
 * whose commit outcome was unknown, fails it and the runtime re-reads the stored offset). With no
 * stored row a partition starts at its log start, whatever the group's offset says.
 */
export class PgOffsetStore implements OffsetStore<Materialized> {
  /** what consumer_offsets holds per partition, as last read or written (null: no row) */
  private readonly stored = new Map<string, bigint | null>();
  private readonly lows = new Map<string, number>();
  private readonly limit;

  constructor(private readonly opts: PgStoreOptions) {
    this.limit = bulkhead(opts.concurrency ?? 3, Number.MAX_SAFE_INTEGER);
  }

  private key(topic: string, partition: number): PartitionKey {
    return { groupId: this.opts.groupId, topic, partition };
  }

  async committedOffset(topic: string, partition: number): Promise<number> {
    if (this.opts.atLeastOnce) return -1; // wherever the group is
    const stored = await readStoredOffset(this.opts.pool, this.key(topic, partition));
    this.stored.set(`${topic}:${partition}`, stored);
    return stored === null ? this.lowWatermark(topic, partition) : Number(stored);
  }

  private async lowWatermark(topic: string, partition: number): Promise<number> {
    const k = `${topic}:${partition}`;
    const hit = this.lows.get(k);
    if (hit !== undefined) return hit;
    for (const o of await this.opts.admin.fetchTopicOffsets(topic))
      this.lows.set(`${topic}:${o.partition}`, Number(o.low));
    return this.lows.get(k) ?? 0;
  }

  commit(b: StoreBatch<Materialized>): Promise<void> {
    return this.limit.execute(() => this.write(b));
  }

  private async write(b: StoreBatch<Materialized>): Promise<void> {
    const t0 = performance.now();
    const k = `${b.topic}:${b.partition}`;
    const records: StageRecord[] = [];
    const failures: FailureRow[] = [];
    for (const v of b.values) {
      if (v.kind === 'record') records.push(v.record);
      else failures.push(v.row);
    }
    // our own dead letters: keyed by item id (the DeadLetter's item_id is not set by the runtime)
    for (const d of b.dead) {
      const row = failureFromDeadLetter(d);
      failures.push({ ...row, itemId: row.itemId ?? (d.original_key?.toString('utf8') || null) });
    }
    const fold = foldBatch(records);
    const jobs = [...new Set([...fold.jobs, ...failures.flatMap((f) => (f.jobId ? [f.jobId] : []))])].sort();
    const next = BigInt(b.nextOffset);
    const client = await this.opts.pool.connect();
    // A checked-out client whose connection dies between two queries emits 'error' (the pool
    // only listens on idle ones); the failing query reports it, this keeps the process alive.
    const onClientError = () => {};
    client.on('error', onClientError);
    try {
      await writeBatch(client, {
        key: this.key(b.topic, b.partition),
        expected: this.stored.get(k) ?? null,
        claim: !this.opts.atLeastOnce,
        next,
        items: fold.items,
        steps: fold.steps,
        jobs,
        failures,
      });
      client.release();
    } catch (e) {
      client.release(e as Error); // never reuse a connection in an unknown state
      throw e;
    } finally {
      client.off('error', onClientError);
    }
    this.stored.set(k, next);
    this.opts.onApplied?.({
      topic: b.topic,
      partition: b.partition,
      records: b.records,
      applied: records.length,
      failures: failures.length,
      next: next.toString(),
      ms: Math.round(performance.now() - t0),
    });
  }
}
