import { setTimeout as sleep } from 'node:timers/promises';
import { ViewRefresher } from '@feedlog/migrations';
import { deadLetterHeaders } from '@feedlog/runtime/dlq';
import { type DeadLetter, isSerdeError, type Serde, serdeFor } from '@feedlog/schemas';
import { declareFeedlog, topicNames } from '@feedlog/topics';
import type { Admin, Batch, Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import type pg from 'pg';
import { type FailureRow, failureFromDeadLetter, foldBatch, type ItemStage, type StageRecord } from './rows.ts';
import { advanceOffset, type PartitionKey, readStoredOffset, StaleOffsetError, writeBatch } from './store.ts';

export const STAGE = 'materialize';
export const GENERATION = 1;
export const defaultGroupId = `feedlog.${STAGE}.g${GENERATION}`;

export type MaterializerEvent =
  | { event: 'started'; groupId: string; topics: string[] }
  | { event: 'assigned'; partitions: number }
  | {
      event: 'batch';
      topic: string;
      partition: number;
      records: number;
      applied: number;
      failures: number;
      next: string;
      ms: number;
    }
  | { event: 'seek'; topic: string; partition: number; from: string; to: string }
  | { event: 'skip'; topic: string; partition: number; records: number; below: string }
  | { event: 'retry'; topic: string; partition: number; attempt: number; error: string }
  | { event: 'commit-failed'; error: string }
  | { event: 'refresh'; views: { view: string; ms: number }[] }
  | { event: 'error'; error: string }
  | { event: 'crash'; error: string; restart: boolean }
  | { event: 'stopped' };

export interface MaterializerOptions {
  pool: pg.Pool;
  kafka: Kafka;
  /** Topic-name prefix of the declarations (tests). */
  prefix?: string;
  groupId?: string;
  registryUrl?: string;
  /** Partitions processed at once (each batch is its own PostgreSQL transaction). Default 3. */
  concurrency?: number;
  sessionTimeout?: number;
  /** Fetch size per partition (smaller: more, shorter transactions). Default kafkajs' 1 MiB. */
  maxBytesPerPartition?: number;
  /** Refresh job_progress/story_summary after bursts and on a schedule (default on). */
  refresh?: boolean | { intervalMs?: number; debounceMs?: number; maxDelayMs?: number };
  onEvent?: (e: MaterializerEvent) => void;
  /**
   * exactly-once (default): offsets stored with the rows, positions taken from PostgreSQL.
   * at-least-once: rows in PostgreSQL, then offsets to the Kafka group only (a crash between the
   * two applies a batch twice). For comparison (bench, and to show the chaos test can fail).
   */
  mode?: 'exactly-once' | 'at-least-once';
  /** The consumer stopped for good (kafkajs does not restart it); main.ts exits so a supervisor restarts the process. */
  onCrash?: (e: Error) => void;
}

export interface MaterializerStats {
  batches: number;
  records: number;
  applied: number;
  skipped: number;
  failures: number;
  retries: number;
  seeks: number;
}

export interface RunningMaterializer {
  groupId: string;
  topics: string[];
  stats: MaterializerStats;
  refresher: ViewRefresher | null;
  stop(): Promise<void>;
}

/** The topics the materializer reads and what each carries. */
export function materializedTopics(prefix = ''): { topic: string; kind: ItemStage | 'dlq' }[] {
  const d = declareFeedlog({ prefix });
  const p = (s: string) => `${prefix}${s}`;
  const stageTopics: { topic: string; kind: ItemStage }[] = [
    { topic: p(topicNames.raw), kind: 'ingest' },
    { topic: p(topicNames.classified), kind: 'classify' },
    { topic: p(topicNames.clustered), kind: 'cluster' },
    { topic: p(topicNames.embedded), kind: 'embed' },
    { topic: p(topicNames.indexed), kind: 'index' },
  ];
  // Every stage's dead letters except our own (those we write to stage_failures directly).
  const dlqs = d.stages
    .filter((s) => s.deadLetterTopic && s.name !== STAGE)
    .map((s) => ({ topic: s.deadLetterTopic!, kind: 'dlq' as const }));
  return [...stageTopics, ...dlqs];
}

const recordOf = {
  ingest: 'RawHeadline',
  classify: 'ClassifiedHeadline',
  cluster: 'ClusteredHeadline',
  embed: 'EmbeddedHeadline',
  index: 'IndexedHeadline',
} as const;

interface PartitionState {
  /** What consumer_offsets holds for the partition (null: no row yet). */
  stored: bigint | null;
  /** Lowest offset still to apply. */
  next: bigint;
  /** The consumer has been positioned at `next` (seeked or found there). */
  positioned: boolean;
}

export class MissingTopicsError extends Error {
  override name = 'MissingTopicsError';
}

/** The materializer's own DLQ could not be written (registry or broker trouble, schema not registered). */
export class DeadLetterUnavailableError extends Error {
  override name = 'DeadLetterUnavailableError';
  readonly retriable = true;
}

const errText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/** Errors worth retrying the batch for: the database went away, a deadlock, a lost race on the offsets row. */
function isTransient(e: unknown): boolean {
  if (e instanceof StaleOffsetError || e instanceof DeadLetterUnavailableError) return true;
  if (isSerdeError(e)) return e.retriable;
  const code = (e as { code?: string })?.code ?? '';
  if (/^(08|53|57P|40)/.test(code)) return true; // connection, resources, admin shutdown, serialization/deadlock
  const msg = (e as Error)?.message ?? '';
  return /terminat|Connection|ECONNREFUSED|ECONNRESET|EPIPE|timeout|not queryable|the database system is/i.test(msg);
}

/**
 * The materializer: a consumer group over every stage topic and the stages' DLQs, writing
 * PostgreSQL exactly once. Each batch (one partition) is one transaction holding the rows AND the
 * partition's next offset (compare-and-set); on (re)assignment the consumer is positioned at the
 * stored offset, never the group's, and records below it are skipped. The group's own offsets are
 * committed after the PostgreSQL commit so lag tools see the materializer's progress.
 */
export async function startMaterializer(opts: MaterializerOptions): Promise<RunningMaterializer> {
  const prefix = opts.prefix ?? '';
  const groupId = opts.groupId ?? defaultGroupId;
  const emit = opts.onEvent ?? (() => {});
  const atLeastOnce = opts.mode === 'at-least-once';
  const topics = materializedTopics(prefix);
  const kindOf = new Map(topics.map((t) => [t.topic, t.kind]));
  const serdeOpts = { prefix, ...(opts.registryUrl ? { registryUrl: opts.registryUrl } : {}) };
  const stageSerdes = new Map<
    string,
    Serde<'RawHeadline' | 'ClassifiedHeadline' | 'ClusteredHeadline' | 'EmbeddedHeadline' | 'IndexedHeadline'>
  >();
  const dlqSerdes = new Map<string, Serde<'DeadLetter'>>();
  for (const t of topics) {
    if (t.kind === 'dlq') dlqSerdes.set(t.topic, serdeFor('DeadLetter', t.topic, serdeOpts));
    else stageSerdes.set(t.topic, serdeFor(recordOf[t.kind], t.topic, serdeOpts));
  }
  const ownDlq = `${prefix}${STAGE}.dlq`;
  const ownDlqSerde = serdeFor('DeadLetter', ownDlq, serdeOpts);

  const stats: MaterializerStats = {
    batches: 0,
    records: 0,
    applied: 0,
    skipped: 0,
    failures: 0,
    retries: 0,
    seeks: 0,
  };
  const states = new Map<string, PartitionState>();
  const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;
  const lowWatermarks = new Map<string, bigint>();

  const refreshOpts = typeof opts.refresh === 'object' ? opts.refresh : {};
  const refresher =
    opts.refresh === false
      ? null
      : new ViewRefresher(opts.pool, {
          intervalMs: refreshOpts.intervalMs ?? 30_000,
          debounceMs: refreshOpts.debounceMs ?? 1_000,
          maxDelayMs: refreshOpts.maxDelayMs ?? 10_000,
          onRefresh: (views) => emit({ event: 'refresh', views }),
          onError: (e) => emit({ event: 'error', error: `refresh: ${errText(e)}` }),
        }).start();

  const admin: Admin = opts.kafka.admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics());
  const missing = [...topics.map((t) => t.topic), ownDlq].filter((t) => !existing.has(t));
  if (missing.length) {
    await admin.disconnect();
    await refresher?.stop();
    throw new MissingTopicsError(
      `topics missing: ${missing.join(', ')}; create them with \`feedlog topics apply${prefix ? ` --prefix ${prefix}` : ''}\``,
    );
  }
  const producer: Producer = opts.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const consumer: Consumer = opts.kafka.consumer({
    groupId,
    readUncommitted: false,
    sessionTimeout: opts.sessionTimeout ?? 10_000,
    heartbeatInterval: Math.min(3_000, Math.floor((opts.sessionTimeout ?? 10_000) / 3)),
    maxWaitTimeInMs: 250,
    ...(opts.maxBytesPerPartition ? { maxBytesPerPartition: opts.maxBytesPerPartition } : {}),
  });
  await consumer.connect();
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    // A new assignment: every partition is positioned again from what PostgreSQL holds.
    states.clear();
    const n = Object.values(e.payload.memberAssignment).reduce((a, ps) => a + ps.length, 0);
    emit({ event: 'assigned', partitions: n });
  });

  consumer.on(consumer.events.CRASH, (e) => {
    emit({ event: 'crash', error: errText(e.payload.error), restart: e.payload.restart });
    if (!e.payload.restart) opts.onCrash?.(e.payload.error);
  });

  // Batches that held only transaction markers or aborted records never reach eachBatch
  // (kafkajs resolves them itself): move the stored offset over them so lag reaches zero.
  const chains = new Map<string, Promise<void>>();
  const serial = (key: string, fn: () => Promise<void>): Promise<void> => {
    const p = (chains.get(key) ?? Promise.resolve()).then(fn, fn);
    chains.set(
      key,
      p.catch(() => {}),
    );
    return p;
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    const { topic, partition, batchSize, firstOffset, lastOffset } = e.payload;
    if (batchSize !== 0 || firstOffset == null || lastOffset == null) return;
    const k = tpKey(topic, partition);
    void serial(k, async () => {
      const st = states.get(k);
      if (!st?.positioned || st.stored === null) return;
      const first = BigInt(firstOffset);
      const to = BigInt(lastOffset) + 1n;
      if (st.next < first || to <= st.next) return; // not contiguous with what we applied
      try {
        if (await advanceOffset(opts.pool, { groupId, topic, partition }, st.stored, to)) {
          st.stored = to;
          st.next = to;
          await commitToGroup(topic, partition, to);
        } else {
          states.delete(k);
        }
      } catch (err) {
        states.delete(k);
        emit({ event: 'error', error: `advance ${topic}[${partition}]: ${errText(err)}` });
      }
    });
  });

  async function commitToGroup(topic: string, partition: number, next: bigint) {
    try {
      await consumer.commitOffsets([{ topic, partition, offset: next.toString() }]);
    } catch (e) {
      emit({ event: 'commit-failed', error: errText(e) }); // lag shows late; PostgreSQL already has the truth
    }
  }

  async function lowWatermark(topic: string, partition: number): Promise<bigint> {
    const k = tpKey(topic, partition);
    const hit = lowWatermarks.get(k);
    if (hit !== undefined) return hit;
    const offsets = await admin.fetchTopicOffsets(topic);
    for (const o of offsets) lowWatermarks.set(tpKey(topic, o.partition), BigInt(o.low));
    return lowWatermarks.get(k) ?? 0n;
  }

  async function loadState(topic: string, partition: number): Promise<PartitionState> {
    if (atLeastOnce) return { stored: null, next: 0n, positioned: true }; // wherever the group is
    const stored = await readStoredOffset(opts.pool, { groupId, topic, partition });
    return { stored, next: stored ?? (await lowWatermark(topic, partition)), positioned: false };
  }

  /** Decode a batch: stage records, dead letters of other stages, and our own failures. */
  async function decode(batch: Batch, messages: Batch['messages']) {
    const kind = kindOf.get(batch.topic);
    const records: StageRecord[] = [];
    const failures: FailureRow[] = [];
    const ownDead: DeadLetter[] = [];
    for (const m of messages) {
      try {
        if (!m.value)
          throw Object.assign(new Error('tombstone (null value) on a stage topic'), { name: 'TombstoneRecordError' });
        if (kind === 'dlq') {
          failures.push(failureFromDeadLetter(await dlqSerdes.get(batch.topic)!.decode(m.value)));
        } else if (kind) {
          const value = await stageSerdes.get(batch.topic)!.decode(m.value);
          records.push({ stage: kind, value } as StageRecord);
        }
      } catch (e) {
        if (isTransient(e)) throw e; // registry unavailable: retry the batch, never dead-letter
        const err = e as Error;
        const dead: DeadLetter = {
          original_key: m.key ?? null,
          original_value: m.value ?? null,
          headers: Object.entries(m.headers ?? {}).flatMap(([key, v]) =>
            (Array.isArray(v) ? v : [v]).map((x) => ({ key, value: x == null ? null : Buffer.from(x) })),
          ),
          source_topic: batch.topic,
          source_partition: batch.partition,
          source_offset: Number(m.offset),
          source_timestamp: m.timestamp ? Number(m.timestamp) : null,
          stage: STAGE,
          consumer_group: groupId,
          generation: GENERATION,
          error_class: err?.name ?? 'Error',
          error_message: String(err?.message ?? e).slice(0, 4_000),
          error_stack: err?.stack?.slice(0, 8_000) ?? null,
          retriable: false,
          attempts: 1,
          item_id: m.key?.toString('utf8') || null,
          job_id: null,
          failed_at: Date.now(),
        };
        ownDead.push(dead);
        failures.push(failureFromDeadLetter(dead));
      }
    }
    return { records, failures, ownDead };
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    const k = tpKey(topic, partition);
    await (chains.get(k) ?? Promise.resolve());
    const key: PartitionKey = { groupId, topic, partition };
    const t0 = performance.now();
    for (let attempt = 1; ; attempt++) {
      if (!isRunning() || isStale()) return;
      try {
        let st = states.get(k);
        if (!st) {
          st = await loadState(topic, partition);
          states.set(k, st);
        }
        const fetched = BigInt((batch as Batch & { fetchedOffset: string }).fetchedOffset);
        if (!st.positioned) {
          st.positioned = true;
          if (fetched !== st.next) {
            // Start from what PostgreSQL says, not from the group's committed offset.
            stats.seeks++;
            emit({ event: 'seek', topic, partition, from: fetched.toString(), to: st.next.toString() });
            consumer.seek({ topic, partition, offset: st.next.toString() });
            return;
          }
        }
        const fresh = batch.messages.filter((m) => BigInt(m.offset) >= st.next);
        const skipped = batch.messages.length - fresh.length;
        if (skipped) {
          stats.skipped += skipped;
          emit({ event: 'skip', topic, partition, records: skipped, below: st.next.toString() });
        }
        const last = BigInt(batch.lastOffset());
        if (fresh.length === 0) {
          resolveOffset(batch.lastOffset());
          return;
        }
        const next = last + 1n > st.next ? last + 1n : st.next;
        const { records, failures, ownDead } = await decode(batch, fresh);
        if (ownDead.length) {
          try {
            await producer.send({
              topic: ownDlq,
              acks: -1,
              messages: await Promise.all(
                // the same feedlog-error-* headers the stages' dead letters carry (runtime/dlq.ts)
                ownDead.map(async (d) => ({
                  key: d.original_key,
                  value: await ownDlqSerde.encode(d),
                  headers: deadLetterHeaders(
                    d,
                    Object.fromEntries(d.headers.map((h) => [h.key, h.value ?? undefined])),
                  ),
                })),
              ),
            });
          } catch (e) {
            // No dead letter, no progress: the partition waits (visible as retry events) rather than
            // losing the record or stopping the whole consumer.
            throw new DeadLetterUnavailableError(`cannot write ${ownDlq}: ${errText(e)}`, { cause: e });
          }
        }
        const fold = foldBatch(records);
        const jobs = [...new Set([...fold.jobs, ...failures.flatMap((f) => (f.jobId ? [f.jobId] : []))])].sort();
        const client = await opts.pool.connect();
        // A checked-out client whose connection dies between two queries emits 'error' (the pool
        // only listens on idle ones); the failing query reports it, this keeps the process alive.
        const onClientError = () => {};
        client.on('error', onClientError);
        try {
          await writeBatch(client, {
            key,
            expected: st.stored,
            claim: !atLeastOnce,
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
        st.stored = next;
        st.next = next;
        resolveOffset(batch.lastOffset());
        stats.batches++;
        stats.records += fresh.length;
        stats.applied += records.length;
        stats.failures += failures.length;
        emit({
          event: 'batch',
          topic,
          partition,
          records: fresh.length,
          applied: records.length,
          failures: failures.length,
          next: next.toString(),
          ms: Math.round(performance.now() - t0),
        });
        refresher?.poke();
        await commitToGroup(topic, partition, next);
        return;
      } catch (e) {
        if (!isTransient(e)) throw e;
        // The outcome of the transaction may be unknown (connection lost at COMMIT): re-read the
        // stored offset before trying again; records below it are then skipped.
        states.delete(k);
        stats.retries++;
        emit({ event: 'retry', topic, partition, attempt, error: errText(e) });
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2));
        await heartbeat().catch(() => {});
      }
    }
  }

  for (const t of topics) await consumer.subscribe({ topic: t.topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: opts.concurrency ?? 3,
    eachBatch,
  });
  emit({ event: 'started', groupId, topics: topics.map((t) => t.topic) });

  let stopping: Promise<void> | undefined;
  return {
    groupId,
    topics: topics.map((t) => t.topic),
    stats,
    refresher,
    stop() {
      stopping ??= (async () => {
        await consumer.disconnect().catch(() => {});
        await producer.disconnect().catch(() => {});
        await admin.disconnect().catch(() => {});
        await refresher?.stop();
        emit({ event: 'stopped' });
      })();
      return stopping;
    },
  };
}
