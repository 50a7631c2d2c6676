import { migrate } from '@feedlog/migrations';
import { testSchema } from '@feedlog/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOps } from '../src/dashboard/ops.ts';

// The dashboard's PostgreSQL panel on a schema of its own: dead letters per stage (a prefixed
// deployment's stage names folded to the stage), the last ones with their reasons, the jobs with
// their progress, and the replay in flight once a `replays` table exists (the replay migration).
describe('dashboard PostgreSQL figures', () => {
  let s: Awaited<ReturnType<typeof testSchema>>;
  beforeAll(async () => {
    s = await testSchema('dashops');
    await migrate(s.pool);
  });
  afterAll(async () => s?.drop());

  it('counts dead letters per stage, lists the last ones, the jobs and the replay in flight', async () => {
    const fail = (stage: string, offset: number, cls: string, at: string) =>
      s.pool.query(
        `INSERT INTO stage_failures (stage, item_id, job_id, source_topic, source_partition, source_offset, error, failed_at)
         VALUES ($1, $2, 'job-a', 'p.raw-headlines', 0, $3, $4, $5)`,
        [stage, `item-${offset}`, offset, { class: cls, message: `why ${offset}` }, at],
      );
    await fail('classify', 1, 'PoisonRecordError', '2026-01-01T00:00:01Z');
    await fail('p.classify', 2, 'PoisonRecordError', '2026-01-01T00:00:03Z');
    await fail('embed', 3, 'EmbedderError', '2026-01-01T00:00:02Z');
    await s.pool.query(`INSERT INTO jobs (id, kind, expected_count) VALUES ('job-a', 'ingest', 3)`);
    await s.pool.query(
      `INSERT INTO item_stages (job_id, stage, item_id, first_at, last_at) VALUES ('job-a', 'ingest', 'item-1', now(), now())`,
    );
    await s.pool.query('REFRESH MATERIALIZED VIEW job_progress');

    let ops = await readOps(s.pool);
    expect(ops.deadLetters.byStage).toEqual({
      classify: { count: 2, last: '2026-01-01T00:00:03.000Z' },
      embed: { count: 1, last: '2026-01-01T00:00:02.000Z' },
    });
    expect(ops.deadLetters.recent.map((d) => [d.stage, d.error_class, d.message, d.source])).toEqual([
      ['classify', 'PoisonRecordError', 'why 2', 'p.raw-headlines[0]@2'],
      ['embed', 'EmbedderError', 'why 3', 'p.raw-headlines[0]@3'],
      ['classify', 'PoisonRecordError', 'why 1', 'p.raw-headlines[0]@1'],
    ]);
    expect(ops.jobs).toEqual([expect.objectContaining({ job_id: 'job-a', kind: 'ingest', expected: 3 })]);
    expect(ops.replay).toBeNull(); // no replay (and, before the replay migration, no table)

    // the table of the replay migration (0003 on the replay work; created here with the columns the
    // page reads when this tree does not have that migration yet)
    const t = await s.pool.query<{ t: string | null }>("SELECT to_regclass('replays')::text AS t");
    if (!t.rows[0]?.t)
      await s.pool.query(`CREATE TABLE replays (id text PRIMARY KEY, stage text NOT NULL, stages text[] NOT NULL,
        generation integer NOT NULL, status text NOT NULL, from_position jsonb NOT NULL,
        progress jsonb NOT NULL DEFAULT '{}'::jsonb, created_at timestamptz NOT NULL DEFAULT now())`);
    await s.pool.query(`INSERT INTO replays (id, stage, stages, generation, status, from_position, created_at)
      VALUES ('r-old', 'embed', '{embed,index}', 2, 'serving', '{"kind":"earliest"}', now() - interval '1 hour'),
             ('r-1', 'embed', '{embed,index}', 3, 'building', '{"kind":"earliest"}', now())`);
    ops = await readOps(s.pool);
    expect(ops.replay).toMatchObject({
      id: 'r-1',
      stage: 'embed',
      stages: ['embed', 'index'],
      generation: 3,
      status: 'building',
    });
    await s.pool.query(`UPDATE replays SET status = 'serving' WHERE id = 'r-1'`);
    expect((await readOps(s.pool)).replay).toBeNull();
  });
});
