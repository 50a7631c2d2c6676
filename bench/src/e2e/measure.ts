// What the run did, read back from PostgreSQL: per-stage counts and rates from the timestamps
// each stage wrote into the records (ingested_at by the API, classified_at … indexed_at by the
// stages), push→searchable latency (indexed_at − ingested_at) and a per-second timeline.
import type pg from 'pg';

export const STAGE_COLUMNS = {
  ingest: 'ingested_at',
  classify: 'classified_at',
  cluster: 'clustered_at',
  embed: 'embedded_at',
  index: 'indexed_at',
} as const;
export type StageName = keyof typeof STAGE_COLUMNS;

export interface StageStat {
  items: number;
  seconds: number;
  recordsPerSec: number;
}

export interface LatencyStat {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Items of the run's jobs that reached the index and the materialized row (searchable). */
export async function countSearchable(pool: pg.Pool, jobIds: string[]): Promise<number> {
  const r = await pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM items WHERE job_id = ANY($1) AND indexed_at IS NOT NULL',
    [jobIds],
  );
  return Number(r.rows[0]?.n ?? 0);
}

export async function stageStats(pool: pg.Pool, jobIds: string[]): Promise<Record<StageName, StageStat>> {
  const out = {} as Record<StageName, StageStat>;
  for (const [stage, col] of Object.entries(STAGE_COLUMNS) as [StageName, string][]) {
    // column names come from the constant above, never from input
    const r = await pool.query<{ n: string; s: number | null }>(
      `SELECT count(${col}) AS n, extract(epoch FROM max(${col}) - min(${col}))::float8 AS s
         FROM items WHERE job_id = ANY($1)`,
      [jobIds],
    );
    const n = Number(r.rows[0]?.n ?? 0);
    const s = r.rows[0]?.s ?? 0;
    out[stage] = { items: n, seconds: Number(s.toFixed(2)), recordsPerSec: Number((s > 0 ? n / s : n).toFixed(1)) };
  }
  return out;
}

export async function latency(pool: pg.Pool, jobIds: string[]): Promise<LatencyStat> {
  const r = await pool.query<LatencyStat>(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY d) AS p95,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY d) AS p99, max(d) AS max
       FROM (SELECT extract(epoch FROM indexed_at - ingested_at)::float8 AS d
               FROM items WHERE job_id = ANY($1) AND indexed_at IS NOT NULL) x`,
    [jobIds],
  );
  const row = r.rows[0];
  const f = (v: number | null | undefined) => Number((v ?? 0).toFixed(3));
  return { p50: f(row?.p50), p95: f(row?.p95), p99: f(row?.p99), max: f(row?.max) };
}

/** Items per whole second since `t0` (epoch ms) that each stage finished. */
export async function timeline(pool: pg.Pool, jobIds: string[], t0: number): Promise<Record<StageName, number[]>> {
  const out = {} as Record<StageName, number[]>;
  for (const [stage, col] of Object.entries(STAGE_COLUMNS) as [StageName, string][]) {
    const r = await pool.query<{ s: number; n: string }>(
      `SELECT floor(extract(epoch FROM ${col}) - $2::float8 / 1000)::int AS s, count(*) AS n
         FROM items WHERE job_id = ANY($1) AND ${col} IS NOT NULL GROUP BY 1 ORDER BY 1`,
      [jobIds, t0],
    );
    const series: number[] = [];
    for (const row of r.rows) if (row.s >= 0) series[row.s] = Number(row.n);
    for (let i = 0; i < series.length; i++) series[i] ??= 0;
    out[stage] = series;
  }
  return out;
}

/** Item ids pushed more than once into the run's rows (should be none: fresh guids). */
export async function duplicateRows(pool: pg.Pool, jobIds: string[]): Promise<number> {
  const r = await pool.query<{ n: string }>(
    `SELECT coalesce(sum(records - 1), 0) AS n FROM item_stages WHERE job_id = ANY($1) AND stage = 'index'`,
    [jobIds],
  );
  return Number(r.rows[0]?.n ?? 0);
}
