import { FeedlogError } from '@feedlog/common';
import type pg from 'pg';
import { parkBlocksParams, parkBlocksSql, parkUnserved, servingGenerations } from './generations.ts';
import type { FailureRow, ItemRow, StepRow } from './rows.ts';

const iso = (ms: number | null | undefined): string | null => (ms == null ? null : new Date(ms).toISOString());

type Col = { name: string; type: string; get: (r: ItemRow) => unknown };

// Column groups of `items` and the guard that decides whether a group is replaced.
const head: Col[] = [
  { name: 'source', type: 'text', get: (r) => r.headline.source },
  { name: 'guid', type: 'text', get: (r) => r.headline.guid },
  { name: 'url', type: 'text', get: (r) => r.headline.url },
  { name: 'title', type: 'text', get: (r) => r.headline.title },
  { name: 'summary', type: 'text', get: (r) => r.headline.summary },
  { name: 'published_at', type: 'timestamptz', get: (r) => iso(r.headline.published_at) },
  { name: 'ingested_at', type: 'timestamptz', get: (r) => iso(r.headline.ingested_at) },
];
const job: Col[] = [
  { name: 'job_id', type: 'text', get: (r) => r.job?.id ?? null },
  { name: 'job_ingested_at', type: 'timestamptz', get: (r) => iso(r.job?.ingestedAt) },
];
const classify: Col[] = [
  { name: 'category', type: 'text', get: (r) => r.classify?.category ?? null },
  { name: 'confidence', type: 'float8', get: (r) => r.classify?.confidence ?? null },
  { name: 'classify_model', type: 'text', get: (r) => r.classify?.model ?? null },
  { name: 'classify_model_version', type: 'text', get: (r) => r.classify?.version ?? null },
  { name: 'classify_generation', type: 'int4', get: (r) => r.classify?.generation ?? null },
  { name: 'classified_at', type: 'timestamptz', get: (r) => iso(r.classify?.at) },
];
const cluster: Col[] = [
  { name: 'story_id', type: 'text', get: (r) => r.cluster?.storyId ?? null },
  { name: 'story_similarity', type: 'float8', get: (r) => r.cluster?.similarity ?? null },
  { name: 'story_is_new', type: 'bool', get: (r) => r.cluster?.isNew ?? null },
  { name: 'cluster_model', type: 'text', get: (r) => r.cluster?.model ?? null },
  { name: 'cluster_model_version', type: 'text', get: (r) => r.cluster?.version ?? null },
  { name: 'cluster_generation', type: 'int4', get: (r) => r.cluster?.generation ?? null },
  { name: 'clustered_at', type: 'timestamptz', get: (r) => iso(r.cluster?.at) },
];
const embed: Col[] = [
  { name: 'embed_model', type: 'text', get: (r) => r.embed?.model ?? null },
  { name: 'embed_model_version', type: 'text', get: (r) => r.embed?.version ?? null },
  { name: 'embed_dimensions', type: 'int4', get: (r) => r.embed?.dimensions ?? null },
  { name: 'embed_generation', type: 'int4', get: (r) => r.embed?.generation ?? null },
  { name: 'embedded_at', type: 'timestamptz', get: (r) => iso(r.embed?.at) },
];
const index: Col[] = [
  { name: 'index_collection', type: 'text', get: (r) => r.index?.collection ?? null },
  { name: 'index_model', type: 'text', get: (r) => r.index?.model ?? null },
  { name: 'index_model_version', type: 'text', get: (r) => r.index?.version ?? null },
  { name: 'index_generation', type: 'int4', get: (r) => r.index?.generation ?? null },
  { name: 'indexed_at', type: 'timestamptz', get: (r) => iso(r.index?.at) },
];

/** A block is replaced by one of a newer generation, or of the same generation and later. */
const versionGuard = (gen: string, at: string) =>
  `(excluded.${gen} IS NOT NULL AND (items.${gen} IS NULL OR excluded.${gen} > items.${gen} OR (excluded.${gen} = items.${gen} AND excluded.${at} > items.${at})))`;

const groups: { cols: Col[]; guard: string }[] = [
  { cols: head, guard: '(excluded.ingested_at > items.ingested_at)' },
  {
    cols: job,
    guard:
      '(excluded.job_ingested_at IS NOT NULL AND (items.job_ingested_at IS NULL OR excluded.job_ingested_at > items.job_ingested_at))',
  },
  { cols: classify, guard: versionGuard('classify_generation', 'classified_at') },
  { cols: cluster, guard: versionGuard('cluster_generation', 'clustered_at') },
  { cols: embed, guard: versionGuard('embed_generation', 'embedded_at') },
  { cols: index, guard: versionGuard('index_generation', 'indexed_at') },
];
const itemCols: Col[] = [{ name: 'item_id', type: 'text', get: (r) => r.itemId }, ...groups.flatMap((g) => g.cols)];

/**
 * One statement for the whole batch: rows as parallel arrays (unnest), each column group
 * replaced only when its guard says the incoming block is newer; rows with nothing newer are
 * not touched at all (the WHERE of DO UPDATE).
 */
export const upsertItemsSql = `INSERT INTO items (${itemCols.map((c) => c.name).join(', ')})
SELECT * FROM unnest(${itemCols.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')})
ON CONFLICT (item_id) DO UPDATE SET
${groups
  .flatMap((g) =>
    g.cols.map((c) => `  ${c.name} = CASE WHEN ${g.guard} THEN excluded.${c.name} ELSE items.${c.name} END`),
  )
  .join(',\n')},
  updated_at = now()
WHERE ${groups.map((g) => g.guard).join('\n   OR ')}`;

export function upsertItemsParams(rows: ItemRow[]): unknown[][] {
  return itemCols.map((c) => rows.map((r) => c.get(r)));
}

export const upsertStepsSql = `INSERT INTO item_stages (job_id, stage, item_id, generation, records, first_at, last_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::int4[], $6::timestamptz[], $7::timestamptz[])
ON CONFLICT (job_id, stage, item_id) DO UPDATE SET
  records = item_stages.records + excluded.records,
  generation = greatest(item_stages.generation, excluded.generation),
  first_at = least(item_stages.first_at, excluded.first_at),
  last_at = greatest(item_stages.last_at, excluded.last_at)`;

export function upsertStepsParams(rows: StepRow[]): unknown[][] {
  return [
    rows.map((r) => r.jobId),
    rows.map((r) => r.stage),
    rows.map((r) => r.itemId),
    rows.map((r) => r.generation),
    rows.map((r) => r.records),
    rows.map((r) => iso(r.firstAt)),
    rows.map((r) => iso(r.lastAt)),
  ];
}

/** Jobs the API has not created yet: created on first sight (kind ingest, auto_created). */
export const insertJobsSql = `INSERT INTO jobs (id, kind, status, auto_created)
SELECT id, 'ingest', 'running', true FROM unnest($1::text[]) AS u(id)
ON CONFLICT (id) DO NOTHING`;

export const insertFailuresSql = `INSERT INTO stage_failures
  (stage, item_id, job_id, source_topic, source_partition, source_offset, consumer_group, generation, error, failed_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::int8[], $7::text[], $8::int4[], $9::jsonb[], $10::timestamptz[])
ON CONFLICT (stage, source_topic, source_partition, source_offset, generation) DO NOTHING`;

export function insertFailuresParams(rows: FailureRow[]): unknown[][] {
  const sorted = [...rows].sort(
    (a, b) =>
      a.stage.localeCompare(b.stage) ||
      a.sourceTopic.localeCompare(b.sourceTopic) ||
      a.sourcePartition - b.sourcePartition ||
      a.sourceOffset - b.sourceOffset,
  );
  return [
    sorted.map((r) => r.stage),
    sorted.map((r) => r.itemId),
    sorted.map((r) => r.jobId),
    sorted.map((r) => r.sourceTopic),
    sorted.map((r) => r.sourcePartition),
    sorted.map((r) => r.sourceOffset),
    sorted.map((r) => r.consumerGroup),
    sorted.map((r) => r.generation),
    sorted.map((r) => JSON.stringify(r.error)),
    sorted.map((r) => iso(r.failedAt)),
  ];
}

/** The stored position moved under us (another instance, or a commit whose outcome we did not see). */
export class StaleOffsetError extends FeedlogError {
  constructor(message: string) {
    super('FEEDLOG_STALE_OFFSET', message);
  }
}

export interface PartitionKey {
  groupId: string;
  topic: string;
  partition: number;
}

/** The next offset stored for a partition, or null when the materializer never wrote it. */
export async function readStoredOffset(db: pg.Pool | pg.PoolClient, k: PartitionKey): Promise<bigint | null> {
  const r = await db.query<{ next_offset: string }>(
    'SELECT next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2 AND partition = $3',
    [k.groupId, k.topic, k.partition],
  );
  return r.rows[0] ? BigInt(r.rows[0].next_offset) : null;
}

export async function readStoredOffsets(
  db: pg.Pool,
  groupId: string,
): Promise<{ topic: string; partition: number; next: bigint }[]> {
  const r = await db.query<{ topic: string; partition: number; next_offset: string }>(
    'SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1 ORDER BY topic, partition',
    [groupId],
  );
  return r.rows.map((x) => ({ topic: x.topic, partition: x.partition, next: BigInt(x.next_offset) }));
}

export interface BatchWrite {
  key: PartitionKey;
  /** What we believe is stored now (null: no row); the transaction checks it first. */
  expected: bigint | null;
  /** Compare-and-set the offsets row (default true; false only in at-least-once mode). */
  claim?: boolean;
  next: bigint;
  items: ItemRow[];
  steps: StepRow[];
  jobs: string[];
  failures: FailureRow[];
}

/**
 * One transaction: claim the partition's position (compare-and-set on consumer_offsets, so a
 * zombie instance or a replayed batch cannot apply twice), then the rows. Lock order is fixed
 * (offsets row, jobs, items, item_stages, failures, each sorted by key), so concurrent batches of
 * different partitions never deadlock each other.
 */
export async function writeBatch(client: pg.PoolClient, w: BatchWrite): Promise<void> {
  await client.query('BEGIN');
  try {
    const { groupId, topic, partition } = w.key;
    const claimed =
      w.claim === false
        ? // at-least-once: recorded for observation only, never read back
          await client.query(
            `INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, $4)
             ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = excluded.next_offset, updated_at = now()`,
            [groupId, topic, partition, w.next.toString()],
          )
        : w.expected === null
          ? await client.query(
              `INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, $4)
             ON CONFLICT (group_id, topic, partition) DO NOTHING`,
              [groupId, topic, partition, w.next.toString()],
            )
          : await client.query(
              `UPDATE consumer_offsets SET next_offset = $4, updated_at = now()
             WHERE group_id = $1 AND topic = $2 AND partition = $3 AND next_offset = $5`,
              [groupId, topic, partition, w.next.toString(), w.expected.toString()],
            );
    if (claimed.rowCount !== 1) {
      throw new StaleOffsetError(`${topic}[${partition}]: stored offset is no longer ${w.expected ?? 'absent'}`);
    }
    if (w.jobs.length) await client.query(insertJobsSql, [w.jobs]);
    // FOR SHARE on the serving rows orders this batch against a flip (which locks them FOR UPDATE):
    // a block is parked or applied by the generation that serves when the batch commits
    const serving = w.items.length ? await servingGenerations(client) : new Map<string, number>();
    const { items, parked } = parkUnserved(w.items, serving);
    if (items.length) await client.query(upsertItemsSql, upsertItemsParams(items));
    if (parked.length) await client.query(parkBlocksSql, parkBlocksParams(parked));
    if (w.steps.length) await client.query(upsertStepsSql, upsertStepsParams(w.steps));
    if (w.failures.length) await client.query(insertFailuresSql, insertFailuresParams(w.failures));
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}

/** Advance a partition's stored position over records that carry no data (transaction markers, aborted records). */
export async function advanceOffset(
  pool: pg.Pool,
  key: PartitionKey,
  expected: bigint,
  next: bigint,
): Promise<boolean> {
  const r = await pool.query(
    `UPDATE consumer_offsets SET next_offset = $4, updated_at = now()
     WHERE group_id = $1 AND topic = $2 AND partition = $3 AND next_offset = $5`,
    [key.groupId, key.topic, key.partition, next.toString(), expected.toString()],
  );
  return r.rowCount === 1;
}
