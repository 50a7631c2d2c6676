import { type Codec, defineStage, type OffsetStore, type Stage } from '@feedlog/runtime';
import { type DeadLetter, type RecordTypes, serdeFor } from '@feedlog/schemas';
import { declareFeedlog, topicNames } from '@feedlog/topics';
import { type FailureRow, failureFromDeadLetter, type ItemStage, type StageRecord } from './rows.ts';

export const STAGE = 'materialize';
export const GENERATION = 1;
export const defaultGroupId = `feedlog.${STAGE}.g${GENERATION}`;

/** What one consumed record becomes: a stage record to fold into items, or another stage's failure. */
export type Materialized = { kind: 'record'; record: StageRecord } | { kind: 'failure'; row: FailureRow };

type Decoded = RecordTypes[
  | 'RawHeadline'
  | 'ClassifiedHeadline'
  | 'ClusteredHeadline'
  | 'EmbeddedHeadline'
  | 'IndexedHeadline'
  | 'DeadLetter'];

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
    .map((s) => ({ topic: s.deadLetterTopic as string, kind: 'dlq' as const }));
  return [...stageTopics, ...dlqs];
}

const recordOf = {
  ingest: 'RawHeadline',
  classify: 'ClassifiedHeadline',
  cluster: 'ClusteredHeadline',
  embed: 'EmbeddedHeadline',
  index: 'IndexedHeadline',
  dlq: 'DeadLetter',
} as const;

export interface MaterializeStageOptions {
  prefix?: string;
  groupId?: string;
  registryUrl?: string;
  store: OffsetStore<Materialized>;
  sessionTimeout?: number;
  maxBytesPerPartition?: number;
  /** records per PostgreSQL transaction at most (default 5,000) */
  maxBatchRecords?: number;
}

/**
 * Every stage topic and the stages' DLQs → PostgreSQL, on the runtime: decode per topic (an
 * undecodable record is dead-lettered to `materialize.dlq` and recorded in stage_failures; a
 * registry outage retries the batch), a pure mapping to rows, and the store, which writes the rows
 * and the partition's next offset in one PostgreSQL transaction.
 */
export function materializeStage(opts: MaterializeStageOptions): Stage<Decoded, Materialized> {
  const prefix = opts.prefix ?? '';
  const serde = { prefix, ...(opts.registryUrl ? { registryUrl: opts.registryUrl } : {}) };
  const topics = materializedTopics(prefix);
  const kindOf = new Map(topics.map((t) => [t.topic, t.kind]));
  const dlq = `${prefix}${STAGE}.dlq`;
  const sessionTimeoutMs = opts.sessionTimeout ?? 10_000;
  return defineStage<Decoded, Materialized>({
    name: STAGE,
    generation: GENERATION,
    groupId: opts.groupId ?? defaultGroupId,
    model: { name: STAGE, version: '1' },
    input: {
      topics: topics.map((t) => ({
        topic: t.topic,
        codec: serdeFor(recordOf[t.kind], t.topic, serde) as Codec<Decoded>,
      })),
    },
    store: opts.store,
    dlq: { topic: dlq, codec: serdeFor('DeadLetter', dlq, serde) },
    config: {
      // a batch is one PostgreSQL transaction per partition: as large as what is buffered
      batch: { maxRecords: opts.maxBatchRecords ?? 5_000, lingerMs: 20 },
      buffer: { maxRecords: 10_000, maxBytes: 32 * 1024 * 1024 },
      sessionTimeoutMs,
      heartbeatIntervalMs: Math.min(3_000, Math.floor(sessionTimeoutMs / 3)),
      // an idle fetch parks on the broker this long (a record ends it at once: minBytes 1); the
      // idle group heartbeats after each empty fetch, so keep it well inside the session
      maxWaitTimeMs: Math.min(2_000, Math.floor(sessionTimeoutMs / 4)),
      maxBytesPerPartition: opts.maxBytesPerPartition ?? 1024 * 1024,
    },
    map(r): Materialized {
      const kind = kindOf.get(r.topic);
      if (kind === 'dlq') return { kind: 'failure', row: failureFromDeadLetter(r.value as DeadLetter) };
      return { kind: 'record', record: { stage: kind, value: r.value } as StageRecord };
    },
  });
}
