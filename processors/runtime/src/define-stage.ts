import type { Kafka } from 'kafkajs';
import type { Breaker, BreakerOptions } from './breaker.ts';
import type { Codec } from './codec.ts';
import type { DeadLetter, RawRecord } from './dlq.ts';
import { defaultRetry, type RetryPolicy } from './retry.ts';
import type { OffsetStore } from './store-sink.ts';
import type { SpanContext, StageTracer } from './trace.ts';

export type DeliveryMode = 'exactly-once' | 'at-least-once';

/** One decoded input record as the transform sees it. */
export interface StageRecord<I> {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: I;
  headers: Record<string, Buffer | undefined>;
  /** the producer's span, from the record's `traceparent` header */
  trace: SpanContext | undefined;
}

/** One output record. `key` defaults to the input record's key. */
export interface Emit<O> {
  value: O;
  key?: Buffer | string | null;
  headers?: Record<string, string | Buffer>;
  /** Kafka timestamp of the output (epoch ms); default: the broker's/producer's time */
  timestamp?: number;
}

/** A message for a topic other than the output (a changelog, say), sent in the batch's transaction. */
export interface ExtraMessage {
  key: Buffer | string | null;
  /** already encoded; null for a tombstone */
  value: Buffer | null;
  headers?: Record<string, string | Buffer>;
  timestamp?: number;
}

/** Where a partition (re)starts: after fencing, before its first batch. */
export interface AssignedPartition {
  topic: string;
  partition: number;
  /** the group's committed offset (-1: none), i.e. the first offset the stage will process */
  committedOffset: number;
  /** `merge` stages: called once for every partition this instance now owns (`partition` is the first) */
  partitions?: number[];
  /** the runtime's client, to read state back (a changelog, say); absent in the in-memory driver */
  kafka?: Kafka;
}

/**
 * One instance owns every input partition and takes them in one order (`orderBy`, then partition,
 * then offset) through one transactional producer: for a stage whose state is global (clustering).
 */
export interface MergeOptions {
  /** the merge key of a record (event time, say); smaller first */
  orderBy(record: RawRecord): number;
  /**
   * How long the merge waits for a partition that has records not fetched yet before going on
   * without it (the only timing-dependent ordering decision). Default 10 s.
   */
  maxIdleMs?: number;
  /** prepare the next batch while the previous one commits (default true) */
  pipeline?: boolean;
  /**
   * Records as they are fetched, undecoded, each once, before the merge orders them into batches:
   * a stage can start slow per-record work for them (the cluster stage asks for their
   * embeddings) so that it overlaps the batches before them. It must not throw, and what it starts
   * must not change what the transform decides (the transform may find the work done, or not).
   */
  lookahead?(records: readonly RawRecord[]): void;
}

/**
 * What the transform returns for one input record, at the same index as the record:
 * an output, several outputs (fan-out), null (filtered out), or an Error for that record alone
 * (a StageError says whether it is retriable; anything else is treated as poison).
 */
export type RecordResult<O> = Emit<O> | Emit<O>[] | null | Error;

export interface ModelRef {
  name: string;
  version: string;
}

export interface StageContext {
  stage: string;
  generation: number;
  model: ModelRef;
  /** 1 on the first try of these records, 2 on the first retry… */
  attempt: number;
  /** aborted when the stage shuts down */
  signal: AbortSignal;
  /** the stage's circuit breaker for one external dependency (created on first use) */
  breaker(name: string): Breaker;
  /** the `StageRun` block every output record carries (schemas: model, version, generation, produced_at) */
  run(): StageRun;
  /**
   * Add a message for another topic to this batch's transaction (exactly-once with the outputs and
   * offsets). Messages sent by a transform call that throws are discarded with it.
   */
  send(topic: string, message: ExtraMessage): void;
}

/** Same shape as the StageRun Avro record. */
export interface StageRun {
  model_name: string;
  model_version: string;
  generation: number;
  produced_at: number;
}

export interface StageConfig {
  mode: DeliveryMode;
  /**
   * A batch (one transaction) is cut at `maxBytes` of input (keys + values + 64 B a record), at
   * `maxRecords`, or `lingerMs` after its first record, whichever comes first. By bytes, so a stage
   * gets about one fetch per transaction whatever its record size (issue 14); `maxRecords` is a cap.
   */
  batch: { maxRecords: number; maxBytes: number; lingerMs: number };
  /** per partition: fetching pauses above either bound and resumes below half of it */
  buffer: { maxRecords: number; maxBytes: number };
  /**
   * A full buffer first holds the consumer (no next fetch) up to this long, waiting to drain below
   * half, and only then pauses the partition; 0: pause at once (the runtime before issue 14, whose
   * resumed partitions waited for kafkajs' next fetch: up to maxWaitTimeMs). Not for merge stages.
   */
  backpressureBlockMs: number;
  retry: RetryPolicy;
  breaker: BreakerOptions;
  /** how long a graceful stop waits for the open batch before aborting its transaction */
  shutdownTimeoutMs: number;
  transactionTimeoutMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxWaitTimeMs: number;
  /**
   * A `map` stage runs at most this many `map` calls of a batch at once (a batch can hold
   * `batch.maxRecords` records; an async map calling a service should not fire them all together).
   */
  mapConcurrency: number;
  /** fetch size per partition; 0: derived from `buffer.maxBytes` (64 KiB to 1 MiB) */
  maxBytesPerPartition: number;
  /** with no committed offset, start at the beginning of the input (true) or its end */
  fromBeginning: boolean;
  /** add feedlog-stage / feedlog-model / feedlog-generation headers to every output (the Avro StageRun block has them anyway) */
  lineageHeaders: boolean;
}

export const defaultStageConfig: StageConfig = {
  mode: 'exactly-once',
  // by bytes: 1 MiB is about one fetch of a partition (maxBytesPerPartition), the raw loop's
  // transaction size; 500 records (the cut before issue 14) was a fifth of it at 200 B a record
  batch: { maxRecords: 10_000, maxBytes: 1024 * 1024, lingerMs: 50 },
  buffer: { maxRecords: 20_000, maxBytes: 16 * 1024 * 1024 },
  backpressureBlockMs: 1_000,
  retry: defaultRetry,
  breaker: { failureThreshold: 5, halfOpenAfterMs: 5_000 },
  shutdownTimeoutMs: 10_000,
  transactionTimeoutMs: 60_000,
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  // an idle fetch parks on the broker this long; a record arriving ends it at once (kafkajs asks
  // minBytes 1), so this is no latency for new data. What it delays: an idle member heartbeats only
  // after an empty fetch (it learns of a rebalance up to this late) and a partition resumed while
  // the others are quiet is fetched with the next request. 2 s: a third of the wake-ups of 500 ms.
  maxWaitTimeMs: 2_000,
  mapConcurrency: 256,
  maxBytesPerPartition: 0,
  fromBeginning: true,
  lineageHeaders: false,
};

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? Partial<T[K]> : T[K] };

/** One input topic, or several each with its codec (a sink reading every stage topic, say). */
export type StageInput<I> = { topic: string; codec: Codec<I> } | { topics: { topic: string; codec: Codec<I> }[] };

interface StageDefinitionBase<I, O> {
  /** stage name: consumer group `feedlog.<name>.g<generation>`, transactional ids, DLQ `stage` field */
  name: string;
  /** consumer group; default `feedlog.<name>.g<generation>` */
  groupId?: string;
  input: StageInput<I>;
  /** subject defaults to `<topic>-value` (TopicNameStrategy); absent when `store` takes the outputs */
  output?: { topic: string; codec: Codec<O>; subject?: string };
  /**
   * Outputs go to a store of the stage's own (PostgreSQL, say) that keeps the offsets in its own
   * transaction, instead of an output topic; dead letters still go to the DLQ topic.
   */
  store?: OffsetStore<O>;
  /** one instance takes every partition, merged in one order (see MergeOptions) */
  merge?: MergeOptions;
  /** DeadLetter records; the codec defaults to JSON (bytes as base64) */
  dlq: { topic: string; codec?: Codec<DeadLetter>; subject?: string };
  model: ModelRef;
  generation: number;
  config?: DeepPartial<StageConfig>;
  tracer?: StageTracer;
  /**
   * Called when a partition (re)starts from its committed offset: on assignment after the
   * partition's producer has fenced older owners, and again after a failed commit. Restore
   * per-partition state here; the first batch waits for it.
   */
  onAssigned?(p: AssignedPartition): Promise<void> | void;
  /** Called when the partition is revoked or the stage stops, after its last batch. */
  onRevoked?(p: { topic: string; partition: number }): Promise<void> | void;
  /** Called once when the stage stops, after its last batch: release what the stage holds (worker threads, say). */
  close?(): Promise<void> | void;
}

export interface BatchStageDefinition<I, O> extends StageDefinitionBase<I, O> {
  /** one result per input record, same order; may throw to fail the whole batch */
  transform(batch: StageRecord<I>[], ctx: StageContext): Promise<RecordResult<O>[]> | RecordResult<O>[];
}

export interface MapStageDefinition<I, O> extends StageDefinitionBase<I, O> {
  /** per record: the output value (keyed like the input), null to drop it; a throw fails that record only */
  map(record: StageRecord<I>, ctx: StageContext): Promise<O | null> | O | null;
}

export type StageDefinitionInput<I, O> = BatchStageDefinition<I, O> | MapStageDefinition<I, O>;

/** A validated, normalised stage: what the runtime and the test driver run. */
export interface Stage<I, O> {
  name: string;
  /** `topic` is the first of `topics` */
  input: { topic: string; topics: string[]; codec: Codec<I>; codecFor(topic: string): Codec<I> };
  output: { topic: string; codec: Codec<O>; subject: string } | undefined;
  store: OffsetStore<O> | undefined;
  merge: MergeOptions | undefined;
  dlq: { topic: string; codec: Codec<DeadLetter> | undefined; subject: string };
  model: ModelRef;
  generation: number;
  groupId: string;
  config: StageConfig;
  tracer: StageTracer | undefined;
  onAssigned: StageDefinitionBase<I, O>['onAssigned'];
  onRevoked: StageDefinitionBase<I, O>['onRevoked'];
  close: StageDefinitionBase<I, O>['close'];
  transform(batch: StageRecord<I>[], ctx: StageContext): Promise<RecordResult<O>[]>;
}

const nameRe = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/i;

function mergeConfig(over: DeepPartial<StageConfig> | undefined): StageConfig {
  const c: StageConfig = structuredClone(defaultStageConfig);
  if (!over) return c;
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const key = k as keyof StageConfig;
    const base = c[key];
    (c as unknown as Record<string, unknown>)[key] =
      typeof base === 'object' && base !== null ? { ...base, ...(v as object) } : v;
  }
  return c;
}

/** The consumer group of a stage generation: a replay (generation N+1) is a new group. */
export function groupIdFor(name: string, generation: number): string {
  return `feedlog.${name}.g${generation}`;
}

/**
 * Declare a stage. Pure: nothing connects until `runStage` (or the in-memory test driver) runs it.
 */
export function defineStage<I, O>(def: StageDefinitionInput<I, O>): Stage<I, O> {
  if (!nameRe.test(def.name)) throw new TypeError(`stage name ${JSON.stringify(def.name)} is not a valid name`);
  if (!Number.isInteger(def.generation) || def.generation < 0)
    throw new TypeError(`stage ${def.name}: generation must be a non-negative integer`);
  // a normalised Stage's input (topic + codec + topics: string[]) is read as its one topic
  const inputs = 'codec' in def.input ? [{ topic: def.input.topic, codec: def.input.codec }] : def.input.topics;
  const first = inputs[0];
  if (!first) throw new TypeError(`stage ${def.name}: no input topic`);
  const codecs = new Map(inputs.map((i) => [i.topic, i.codec]));
  if (!def.output === !def.store) throw new TypeError(`stage ${def.name}: give exactly one of output or store`);
  if (def.output && codecs.has(def.output.topic))
    throw new TypeError(`stage ${def.name}: input and output are the same topic`);
  if (def.dlq.topic === def.output?.topic || codecs.has(def.dlq.topic))
    throw new TypeError(`stage ${def.name}: the DLQ must be a topic of its own`);
  if (def.merge && inputs.length > 1) throw new TypeError(`stage ${def.name}: merge takes one input topic`);
  const config = mergeConfig(def.config);
  for (const [what, v] of [
    ['batch.maxRecords', config.batch.maxRecords],
    ['batch.maxBytes', config.batch.maxBytes],
    ['buffer.maxRecords', config.buffer.maxRecords],
    ['mapConcurrency', config.mapConcurrency],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new TypeError(`stage ${def.name}: ${what} must be an integer ≥ 1`);
  }
  if (config.retry.maxAttempts < 1) throw new TypeError(`stage ${def.name}: retry.maxAttempts must be ≥ 1`);
  const hasTransform = 'transform' in def && typeof def.transform === 'function';
  const hasMap = 'map' in def && typeof def.map === 'function';
  if (hasTransform === hasMap) throw new TypeError(`stage ${def.name}: give exactly one of transform or map`);

  let transform: Stage<I, O>['transform'];
  if (hasTransform) {
    const t = (def as BatchStageDefinition<I, O>).transform;
    transform = async (batch, ctx) => t(batch, ctx);
  } else {
    const m = (def as MapStageDefinition<I, O>).map;
    const one = async (r: StageRecord<I>, ctx: StageContext): Promise<RecordResult<O>> => {
      try {
        const v = await m(r, ctx);
        return v === null ? null : { value: v };
      } catch (e) {
        // an open breaker is about the dependency, not this record: fail the batch so the runtime pauses
        if (e instanceof Error && e.name === 'BreakerOpenError') throw e;
        return e instanceof Error ? e : new Error(String(e));
      }
    };
    const limit = config.mapConcurrency;
    transform = async (batch, ctx) => {
      if (batch.length <= limit) return Promise.all(batch.map((r) => one(r, ctx)));
      // bounded: `limit` lanes, each taking the next record when its call settles
      const out = new Array<RecordResult<O>>(batch.length);
      let next = 0;
      const lane = async () => {
        while (next < batch.length) {
          const i = next++;
          out[i] = await one(batch[i] as StageRecord<I>, ctx);
        }
      };
      await Promise.all(Array.from({ length: limit }, lane));
      return out;
    };
  }

  // `codec` stays assignable (tests swap in a registry-backed codec) and is what the first topic decodes with
  const input: Stage<I, O>['input'] = {
    topic: first.topic,
    topics: [...codecs.keys()],
    codec: first.codec,
    codecFor: (topic) => (topic === input.topic ? input.codec : (codecs.get(topic) ?? input.codec)),
  };
  return {
    name: def.name,
    input,
    output: def.output ? { ...def.output, subject: def.output.subject ?? `${def.output.topic}-value` } : undefined,
    store: def.store,
    merge: def.merge,
    dlq: { topic: def.dlq.topic, codec: def.dlq.codec, subject: def.dlq.subject ?? `${def.dlq.topic}-value` },
    model: def.model,
    generation: def.generation,
    groupId: def.groupId ?? groupIdFor(def.name, def.generation),
    config,
    tracer: def.tracer,
    onAssigned: def.onAssigned,
    onRevoked: def.onRevoked,
    close: def.close,
    transform,
  };
}
