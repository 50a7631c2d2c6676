import type pg from 'pg';
import { type JobRow, jobColumns, jobView } from '../routes/jobs.ts';

/** What PostgreSQL says about the pipeline's health: dead letters, recent jobs, the replay in flight. */
export interface OpsSnapshot {
  at: string;
  deadLetters: { byStage: Record<string, { count: number; last: string | null }>; recent: DeadLetterView[] };
  jobs: ReturnType<typeof jobView>[];
  /** the replay in progress (table `replays` of the replay migration), null when none or no such table */
  replay: Record<string, unknown> | null;
  error?: string;
}

export interface DeadLetterView {
  stage: string;
  item_id: string | null;
  error_class: string | null;
  message: string | null;
  source: string;
  failed_at: string;
}

const iso = (d: Date | string | null) => (d instanceof Date ? d.toISOString() : d);
/** A stage's own name: a prefixed deployment (tests) records `<prefix>.classify`; the page shows `classify`. */
const baseStage = (s: string) => s.slice(s.lastIndexOf('.') + 1);

/** One read of the dashboard's PostgreSQL figures (a handful of small indexed queries). */
export async function readOps(
  pool: pg.Pool,
  opts: { recentDeadLetters?: number; jobs?: number } = {},
): Promise<OpsSnapshot> {
  const counts = await pool.query<{ stage: string; n: number; last: Date | null }>(
    'SELECT stage, count(*)::int AS n, max(failed_at) AS last FROM stage_failures GROUP BY stage',
  );
  const recent = await pool.query<{
    stage: string;
    item_id: string | null;
    error_class: string | null;
    message: string | null;
    source_topic: string;
    source_partition: number;
    source_offset: string;
    failed_at: Date;
  }>(
    `SELECT stage, item_id, error ->> 'class' AS error_class, error ->> 'message' AS message,
            source_topic, source_partition, source_offset, failed_at
       FROM stage_failures ORDER BY failed_at DESC, id DESC LIMIT $1`,
    [opts.recentDeadLetters ?? 10],
  );
  const jobs = await pool.query<JobRow>(
    `SELECT ${jobColumns} FROM job_progress p ORDER BY p.created_at DESC, p.job_id LIMIT $1`,
    [opts.jobs ?? 8],
  );
  const byStage: OpsSnapshot['deadLetters']['byStage'] = {};
  for (const r of counts.rows) {
    const k = baseStage(r.stage);
    const prev = byStage[k];
    const last = iso(r.last);
    byStage[k] = { count: (prev?.count ?? 0) + r.n, last: prev?.last && last && prev.last > last ? prev.last : last };
  }
  return {
    at: new Date().toISOString(),
    deadLetters: {
      byStage,
      recent: recent.rows.map((r) => ({
        stage: baseStage(r.stage),
        item_id: r.item_id,
        error_class: r.error_class,
        message: r.message,
        source: `${r.source_topic}[${r.source_partition}]@${r.source_offset}`,
        failed_at: iso(r.failed_at) ?? '',
      })),
    },
    jobs: jobs.rows.map(jobView),
    replay: await readReplay(pool),
  };
}

/** The replay in progress, when the replays table (migration of the replay work) exists. */
async function readReplay(pool: pg.Pool): Promise<Record<string, unknown> | null> {
  const t = await pool.query<{ t: string | null }>("SELECT to_regclass('replays')::text AS t");
  if (!t.rows[0]?.t) return null;
  const r = await pool.query<{ replay: Record<string, unknown> }>(
    `SELECT row_to_json(r) AS replay FROM replays r
      WHERE r.status IN ('building', 'caught-up') ORDER BY r.created_at DESC LIMIT 1`,
  );
  return r.rows[0]?.replay ?? null;
}
