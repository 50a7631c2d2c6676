import type pg from 'pg';
import { OffsetsMovedError } from './errors.ts';
import { tpKey } from './kafka.ts';
import type { PlannedPartition } from './types.ts';

/** The materializer's positions: `consumer_offsets` rows of the group (migrations/0001_init.sql). */
export async function storedOffsets(db: pg.Pool | pg.PoolClient, groupId: string): Promise<Map<string, bigint>> {
  const { rows } = await db.query<{ topic: string; partition: number; next_offset: string }>(
    'SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1',
    [groupId],
  );
  return new Map(rows.map((r) => [tpKey(r.topic, r.partition), BigInt(r.next_offset)]));
}

/** Does the group keep its offsets in PostgreSQL? (false when the table is not there at all) */
export async function hasStoredOffsets(pool: pg.Pool, groupId: string): Promise<boolean> {
  try {
    const { rowCount } = await pool.query('SELECT 1 FROM consumer_offsets WHERE group_id = $1 LIMIT 1', [groupId]);
    return (rowCount ?? 0) > 0;
  } catch (e) {
    if ((e as { code?: string }).code === '42P01') return false; // undefined_table: not a feedlog database
    throw e;
  }
}

/**
 * Writes the plan's targets into `consumer_offsets` in one transaction: the group's rows are
 * locked, must still hold what the plan read (else OffsetsMovedError, nothing written), then
 * `recheck` runs (the group must still have no members) just before the upserts and COMMIT.
 */
export async function writeStoredOffsets(
  pool: pg.Pool,
  groupId: string,
  partitions: PlannedPartition[],
  recheck: () => Promise<void>,
): Promise<void> {
  const client = await pool.connect();
  const onError = () => {}; // a dropped connection is reported by the failing query
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    await client.query('SELECT 1 FROM consumer_offsets WHERE group_id = $1 FOR UPDATE', [groupId]);
    const now = await storedOffsets(client, groupId);
    const moved = partitions.filter((p) => (now.get(tpKey(p.topic, p.partition)) ?? null) !== p.current);
    if (moved.length) {
      throw new OffsetsMovedError(
        `the stored offsets of ${groupId} changed since the plan was made (${moved
          .slice(0, 5)
          .map(
            (p) =>
              `${p.topic}:${p.partition} ${p.current ?? 'none'} → ${now.get(tpKey(p.topic, p.partition)) ?? 'none'}`,
          )
          .join(', ')}); nothing was written — plan again`,
      );
    }
    await recheck();
    await client.query(
      `INSERT INTO consumer_offsets (group_id, topic, partition, next_offset, updated_at)
       SELECT $1, t, p, o, now() FROM unnest($2::text[], $3::int4[], $4::int8[]) AS u(t, p, o)
       ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = excluded.next_offset, updated_at = now()`,
      [
        groupId,
        partitions.map((p) => p.topic),
        partitions.map((p) => p.partition),
        partitions.map((p) => p.target.toString()),
      ],
    );
    await client.query('COMMIT');
    client.release();
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    client.release(e as Error);
    throw e;
  } finally {
    client.off('error', onError);
  }
}
