import type pg from 'pg';
import { feedSource } from './parse/index.ts';
import { nextDue, type Schedule } from './schedule.ts';

/** A row of `feeds` as the CLI, the API and the poller see it. */
export interface Feed {
  id: number;
  url: string;
  name: string;
  source: string;
  schedule: Schedule;
  enabled: boolean;
  etag: string | null;
  lastModified: string | null;
  lastPolledAt: string | null;
  lastSuccessAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  lastErrorAt: string | null;
  consecutiveFailures: number;
  nextDueAt: string;
  itemsSeen: number;
  polls: number;
  createdAt: string;
}

/** What one poll did, written back to the feed and to feed_polls in one transaction. */
export interface PollOutcome {
  jobId: string;
  dueAt: number;
  startedAt: number;
  finishedAt: number;
  httpStatus: number | null;
  outcome: 'items' | 'not_modified' | 'retry_later' | 'error';
  items: number;
  produced: number;
  /** items that had no date and got the poll time */
  undated?: number;
  error: string | null;
  etag?: string | null;
  lastModified?: string | null;
  /** a permanent redirect moved the feed */
  newUrl?: string | null;
  /** when to poll next (the schedule, a Retry-After, or a backoff) */
  nextDueAt: number;
}

interface FeedRow {
  id: string;
  url: string;
  name: string;
  source: string;
  interval_seconds: number | null;
  cron: string | null;
  time_zone: string;
  enabled: boolean;
  etag: string | null;
  last_modified: string | null;
  last_polled_at: Date | null;
  last_success_at: Date | null;
  last_status: number | null;
  last_error: string | null;
  last_error_at: Date | null;
  consecutive_failures: number;
  next_due_at: Date;
  items_seen: string;
  polls: string;
  created_at: Date;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toFeed(r: FeedRow): Feed {
  return {
    id: Number(r.id),
    url: r.url,
    name: r.name,
    source: r.source,
    schedule:
      r.cron !== null
        ? { kind: 'cron', expr: r.cron, timeZone: r.time_zone }
        : { kind: 'interval', seconds: r.interval_seconds ?? 900 },
    enabled: r.enabled,
    etag: r.etag,
    lastModified: r.last_modified,
    lastPolledAt: iso(r.last_polled_at),
    lastSuccessAt: iso(r.last_success_at),
    lastStatus: r.last_status,
    lastError: r.last_error,
    lastErrorAt: iso(r.last_error_at),
    consecutiveFailures: r.consecutive_failures,
    nextDueAt: r.next_due_at.toISOString(),
    itemsSeen: Number(r.items_seen),
    polls: Number(r.polls),
    createdAt: r.created_at.toISOString(),
  };
}

export class FeedExistsError extends Error {
  override name = 'FeedExistsError';
}

export interface NewFeed {
  url: string;
  name?: string;
  source?: string;
  schedule: Schedule;
  enabled?: boolean;
}

/** The feed registry in PostgreSQL (migration 0004). Every statement is parameterised. */
export class FeedStore {
  constructor(private readonly pool: pg.Pool) {}

  async add(f: NewFeed, now = Date.now()): Promise<Feed> {
    const url = new URL(f.url).toString();
    try {
      const r = await this.pool.query<FeedRow>(
        `INSERT INTO feeds (url, name, source, interval_seconds, cron, time_zone, enabled, next_due_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
        [
          url,
          f.name ?? feedSource(url),
          f.source ?? feedSource(url),
          f.schedule.kind === 'interval' ? f.schedule.seconds : null,
          f.schedule.kind === 'cron' ? f.schedule.expr : null,
          f.schedule.kind === 'cron' ? f.schedule.timeZone : 'UTC',
          f.enabled ?? true,
          // an interval feed is due at once; a cron feed at its first firing
          new Date(f.schedule.kind === 'interval' ? now : nextDue(f.schedule, now)),
        ],
      );
      return toFeed(r.rows[0]!);
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new FeedExistsError(`a feed with URL ${url} exists`);
      throw e;
    }
  }

  async list(): Promise<Feed[]> {
    const r = await this.pool.query<FeedRow>('SELECT * FROM feeds ORDER BY id');
    return r.rows.map(toFeed);
  }

  /** By id, or by URL. */
  async get(ref: string | number): Promise<Feed | undefined> {
    const byId = typeof ref === 'number' || /^\d+$/.test(ref);
    const r = await this.pool.query<FeedRow>(`SELECT * FROM feeds WHERE ${byId ? 'id = $1' : 'url = $1'}`, [
      byId ? Number(ref) : ref,
    ]);
    return r.rows[0] ? toFeed(r.rows[0]) : undefined;
  }

  async remove(id: number): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM feeds WHERE id = $1', [id])).rowCount ?? 0) > 0;
  }

  async setEnabled(id: number, enabled: boolean): Promise<Feed | undefined> {
    const r = await this.pool.query<FeedRow>('UPDATE feeds SET enabled = $2 WHERE id = $1 RETURNING *', [id, enabled]);
    return r.rows[0] ? toFeed(r.rows[0]) : undefined;
  }

  /** Due now: the next poller tick takes it (failures and Retry-After are overridden on purpose). */
  async pollNow(id: number, now = Date.now()): Promise<Feed | undefined> {
    const r = await this.pool.query<FeedRow>('UPDATE feeds SET next_due_at = $2 WHERE id = $1 RETURNING *', [
      id,
      new Date(now),
    ]);
    return r.rows[0] ? toFeed(r.rows[0]) : undefined;
  }

  async recentPolls(id: number, limit = 10): Promise<Record<string, unknown>[]> {
    const r = await this.pool.query(
      `SELECT job_id, due_at, started_at, finished_at, http_status, outcome, items, produced, error, poller
       FROM feed_polls WHERE feed_id = $1 ORDER BY started_at DESC LIMIT $2`,
      [id, limit],
    );
    return r.rows;
  }

  /**
   * Claim up to `limit` due feeds for `owner`: rows locked FOR UPDATE SKIP LOCKED (another poller
   * claiming at the same instant skips them) and leased until `now + leaseMs` (no other poller
   * takes them while this one polls, even after the claiming transaction ended).
   */
  async claimDue(owner: string, now: number, limit: number, leaseMs: number): Promise<Feed[]> {
    const r = await this.pool.query<FeedRow>(
      `WITH due AS (
         SELECT id FROM feeds
         WHERE enabled AND next_due_at <= $1 AND (lease_until IS NULL OR lease_until < $1)
         ORDER BY next_due_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED)
       UPDATE feeds f SET lease_owner = $3, lease_until = $4
       FROM due WHERE f.id = due.id
       RETURNING f.*`,
      [new Date(now), limit, owner, new Date(now + leaseMs)],
    );
    return r.rows.map(toFeed);
  }

  /** Record a poll and release the lease; false when the lease was lost (another poller owns the feed now). */
  async finish(feed: Feed, owner: string, o: PollOutcome): Promise<boolean> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const ok = o.outcome === 'items' || o.outcome === 'not_modified';
      const u = await c.query(
        `UPDATE feeds SET
           lease_owner = NULL, lease_until = NULL,
           last_polled_at = $3, last_status = $4, polls = polls + 1, next_due_at = $5,
           last_success_at = CASE WHEN $6 THEN $3 ELSE last_success_at END,
           consecutive_failures = CASE WHEN $6 THEN 0 WHEN $7 = 'error' THEN consecutive_failures + 1 ELSE consecutive_failures END,
           last_error = CASE WHEN $6 THEN NULL ELSE COALESCE($8, last_error) END,
           last_error_at = CASE WHEN $8::text IS NOT NULL THEN $3 ELSE last_error_at END,
           etag = CASE WHEN $7 = 'items' THEN $9 ELSE etag END,
           last_modified = CASE WHEN $7 = 'items' THEN $10 ELSE last_modified END,
           items_seen = items_seen + $11,
           -- a permanent redirect moves the feed, unless another feed already has that URL
           url = CASE WHEN $12::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM feeds o WHERE o.url = $12 AND o.id <> $1)
                      THEN $12 ELSE url END
         WHERE id = $1 AND lease_owner = $2`,
        [
          feed.id,
          owner,
          new Date(o.finishedAt),
          o.httpStatus,
          new Date(o.nextDueAt),
          ok,
          o.outcome,
          o.error,
          o.etag ?? null,
          o.lastModified ?? null,
          o.produced,
          o.newUrl ?? null,
        ],
      );
      if (u.rowCount !== 1) {
        await c.query('ROLLBACK');
        return false;
      }
      await c.query(
        `INSERT INTO feed_polls (job_id, feed_id, due_at, poller, started_at, finished_at, http_status, outcome, items, produced, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          o.jobId,
          feed.id,
          new Date(o.dueAt),
          owner,
          new Date(o.startedAt),
          new Date(o.finishedAt),
          o.httpStatus,
          o.outcome,
          o.items,
          o.produced,
          o.error,
        ],
      );
      await c.query('COMMIT');
      return true;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }
}
