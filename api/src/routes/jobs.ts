import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errors } from '../errors.ts';
import { query } from '../plugins/pg.ts';
import { ErrorBody, Job, JobIdParams, JobList, JobsQuery } from '../schemas.ts';

/**
 * A job's status as the API reports it: the jobs row's status, except that a running job whose
 * items all reached the index or failed (job_progress.finished_at) is `done`.
 */
const effectiveStatus = `CASE WHEN p.status IN ('running', 'accepted') AND p.finished_at IS NOT NULL THEN 'done' ELSE p.status END`;

export const jobColumns = `p.job_id, p.kind, p.caller, ${effectiveStatus} AS status, p.created_at, p.expected_count,
  p.ingested, p.classified, p.clustered, p.embedded, p.indexed, p.records, p.items, p.failures,
  p.failures_by_stage, p.failure_classes, p.stuck, p.stuck_items, p.done_items, p.done_ratio,
  p.finished_at, p.last_activity_at, p.refreshed_at`;

export interface JobRow {
  job_id: string;
  kind: string;
  caller: string | null;
  status: string;
  created_at: Date;
  expected_count: number | null;
  ingested: string | number;
  classified: string | number;
  clustered: string | number;
  embedded: string | number;
  indexed: string | number;
  records: string | number;
  items: string | number;
  failures: string | number;
  failures_by_stage: Record<string, number>;
  failure_classes: Record<string, Record<string, number>>;
  stuck: string | number;
  stuck_items: string[];
  done_items: string | number;
  done_ratio: string | number;
  finished_at: Date | null;
  last_activity_at: Date | null;
  refreshed_at: Date | null;
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export function jobView(r: JobRow) {
  return {
    job_id: r.job_id,
    kind: r.kind,
    caller: r.caller,
    status: r.status,
    created_at: iso(r.created_at),
    expected: r.expected_count,
    stages: {
      ingest: Number(r.ingested),
      classify: Number(r.classified),
      cluster: Number(r.clustered),
      embed: Number(r.embedded),
      index: Number(r.indexed),
    },
    items: Number(r.items),
    records: Number(r.records),
    failures: { total: Number(r.failures), by_stage: r.failures_by_stage, by_error: r.failure_classes },
    stuck: { count: Number(r.stuck), item_ids: r.stuck_items },
    done_items: Number(r.done_items),
    done_ratio: Number(r.done_ratio),
    finished_at: iso(r.finished_at),
    last_activity_at: iso(r.last_activity_at),
    /** when job_progress was last refreshed; null for a job newer than the last refresh */
    as_of: iso(r.refreshed_at),
  };
}

/** A job the view has not seen yet (created after its last refresh): the jobs row with zero progress. */
const fromJobsTable = `SELECT j.id AS job_id, j.kind, j.caller, j.status, j.created_at, j.expected_count,
  0 AS ingested, 0 AS classified, 0 AS clustered, 0 AS embedded, 0 AS indexed, 0 AS records, 0 AS items,
  0 AS failures, '{}'::jsonb AS failures_by_stage, '{}'::jsonb AS failure_classes, 0 AS stuck,
  ARRAY[]::text[] AS stuck_items, 0 AS done_items, 0 AS done_ratio, NULL::timestamptz AS finished_at,
  NULL::timestamptz AS last_activity_at, NULL::timestamptz AS refreshed_at
  FROM jobs j WHERE j.id = $1`;

export const jobsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: "A job's progress through every stage (job_progress)",
        params: JobIdParams,
        response: { 200: Job, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (req) => {
      const r = await query<JobRow>(app, `SELECT ${jobColumns} FROM job_progress p WHERE p.job_id = $1`, [
        req.params.id,
      ]);
      if (r.rows[0]) return jobView(r.rows[0]);
      const j = await query<JobRow>(app, fromJobsTable, [req.params.id]);
      if (j.rows[0]) return jobView(j.rows[0]);
      throw errors.notFound(`no job ${req.params.id}`);
    },
  );

  app.get(
    '/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Jobs, newest first, filtered by status, caller and creation time',
        querystring: JobsQuery,
        response: { 200: JobList, 400: ErrorBody, 503: ErrorBody },
      },
    },
    async (req) => {
      const where: string[] = [];
      const values: unknown[] = [];
      if (req.query.status) {
        values.push(req.query.status);
        where.push(`${effectiveStatus} = $${values.length}`);
      }
      if (req.query.caller) {
        values.push(req.query.caller);
        where.push(`p.caller = $${values.length}`);
      }
      if (req.query.since) {
        values.push(req.query.since);
        where.push(`p.created_at >= $${values.length}`);
      }
      values.push(req.query.limit, req.query.offset);
      const r = await query<JobRow>(
        app,
        `SELECT ${jobColumns} FROM job_progress p ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY p.created_at DESC, p.job_id LIMIT $${values.length - 1} OFFSET $${values.length}`,
        values,
      );
      return { jobs: r.rows.map(jobView), limit: req.query.limit, offset: req.query.offset };
    },
  );
};
