import { applyParkedSql } from '@feedlog/materialize';
import type pg from 'pg';
import type { ReplayRow } from './types.ts';

/**
 * The flip, one PostgreSQL transaction: the replay's generations become the serving ones (the old
 * ones retired), and the blocks the materializer parked for them are copied into `items`. Search
 * reads the serving index generation, its collection and its embedding model in one statement
 * (`servingSearchSql`), and `GET /v1/items/:id` reads `items`: both see all of the old generation
 * or all of the new one. The generations rows are locked FOR UPDATE (by stage, generation), the
 * order the materializer takes FOR SHARE on the serving rows, so no batch straddles the flip.
 * Returns false when another controller flipped (or aborted) it first.
 */
export async function flipReplay(pool: pg.Pool, replay: ReplayRow): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const r = await client.query<{ status: string }>('SELECT status FROM replays WHERE id = $1 FOR UPDATE', [
      replay.id,
    ]);
    if (r.rows[0]?.status !== 'caught-up') {
      await client.query('ROLLBACK');
      return false;
    }
    await client.query(
      'SELECT 1 FROM generations WHERE stage = ANY($1) AND (serving OR generation = $2) ORDER BY stage, generation FOR UPDATE',
      [replay.stages, replay.generation],
    );
    await client.query(
      "UPDATE generations SET serving = false, status = 'retired', finished_at = now() WHERE stage = ANY($1) AND serving",
      [replay.stages],
    );
    await client.query(
      `UPDATE generations SET serving = true, status = 'serving', serving_since = now(),
         caught_up = true, caught_up_at = coalesce(caught_up_at, now())
       WHERE stage = ANY($1) AND generation = $2`,
      [replay.stages, replay.generation],
    );
    for (const stage of replay.stages) {
      await client.query(applyParkedSql(stage), [replay.generation]);
      await client.query('DELETE FROM item_generation_blocks WHERE stage = $1 AND generation = $2', [
        stage,
        replay.generation,
      ]);
    }
    await client.query("UPDATE replays SET status = 'serving', finished_at = now(), updated_at = now() WHERE id = $1", [
      replay.id,
    ]);
    await client.query('COMMIT');
    return true;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}
