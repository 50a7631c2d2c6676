import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { type FetchOptions, fetchFeed } from './fetch.ts';
import { type FeedItem, FeedParseError, parseFeedBody } from './parse/index.ts';
import { type RawSink, toRawHeadline } from './producer.ts';
import { nextDue } from './schedule.ts';
import type { Feed, FeedStore, PollOutcome } from './store.ts';

export interface PollerOptions {
  store: FeedStore;
  /** the same database: jobs and feed_items */
  pool: pg.Pool;
  sink: RawSink;
  /** this poller's name in leases and feed_polls */
  owner?: string;
  /** feeds polled at once (default 8) */
  concurrency?: number;
  fetch?: Partial<Omit<FetchOptions, 'etag' | 'lastModified'>>;
  /** failing feeds: first backoff and cap, ms (default 60 s and 6 h, doubling) */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** the clock (tests pass a fake one) */
  clock?: () => number;
  onPoll?: (r: PollReport) => void;
  /** a poll that could not be recorded (the others go on) */
  onError?: (e: unknown, feed: Feed) => void;
}

export interface PollReport extends PollOutcome {
  feedId: number;
  url: string;
}

const defaults = { timeoutMs: 20_000, maxBytes: 10 * 1024 * 1024, maxRedirects: 5 };

/**
 * Polls due feeds: `concurrency` workers each claim one due feed at a time (a lease in
 * PostgreSQL), fetch it conditionally, parse it all-or-nothing, produce the items not seen in
 * this feed before to raw-headlines as one job, and record the poll. A slow feed holds one
 * worker; the others go on claiming.
 */
export class Poller {
  readonly owner: string;
  private readonly o: Required<Omit<PollerOptions, 'onPoll' | 'onError' | 'fetch' | 'owner'>> &
    Pick<PollerOptions, 'onPoll' | 'onError'>;
  private readonly fetchOpts: Omit<FetchOptions, 'etag' | 'lastModified'>;
  private stopping = false;
  private loop: Promise<void> | undefined;

  constructor(opts: PollerOptions) {
    this.owner = opts.owner ?? `poller-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.o = {
      store: opts.store,
      pool: opts.pool,
      sink: opts.sink,
      concurrency: opts.concurrency ?? 8,
      backoffBaseMs: opts.backoffBaseMs ?? 60_000,
      backoffMaxMs: opts.backoffMaxMs ?? 6 * 3600_000,
      clock: opts.clock ?? Date.now,
      onPoll: opts.onPoll,
      onError: opts.onError,
    };
    this.fetchOpts = { ...defaults, ...opts.fetch };
  }

  /** Poll every feed due now, then resolve (tests and `poll-now` call this; the service loops it). */
  async drain(): Promise<PollReport[]> {
    const reports: PollReport[] = [];
    const claim = async () =>
      (await this.o.store.claimDue(this.owner, this.o.clock(), 1, this.fetchOpts.timeoutMs * 2 + 30_000))[0];
    const worker = async (first?: Feed) => {
      let feed = first;
      while (!this.stopping) {
        feed ??= await claim();
        if (!feed) return;
        try {
          const r = await this.pollOne(feed);
          if (r) reports.push(r);
        } catch (e) {
          // PostgreSQL or Kafka failed under this poll: its lease runs out and a later pass retries it
          this.o.onError?.(e, feed);
        }
        feed = undefined;
      }
    };
    // One claim first: with nothing due (the usual case between polls) one query answers, instead
    // of every worker asking at once (8 queries a second kept an idle poller at ~3 % of a core).
    const first = await claim();
    if (!first) return reports;
    await Promise.all([worker(first), ...Array.from({ length: this.o.concurrency - 1 }, () => worker())]);
    return reports;
  }

  /** Drain, then wait `idleMs`, until stop(). */
  start(idleMs = 1_000, onError: (e: unknown) => void = () => undefined): void {
    this.loop ??= (async () => {
      while (!this.stopping) {
        try {
          await this.drain();
        } catch (e) {
          onError(e);
        }
        if (!this.stopping) await sleep(idleMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private backoff(failures: number): number {
    return Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** Math.max(0, failures - 1));
  }

  private async pollOne(feed: Feed): Promise<PollReport | undefined> {
    const startedAt = this.o.clock();
    const dueAt = Date.parse(feed.nextDueAt);
    const jobId = randomUUID();
    const base = { jobId, dueAt, startedAt, items: 0, produced: 0, error: null, httpStatus: null };
    let outcome: PollOutcome;
    const scheduled = (now: number) => nextDue(feed.schedule, now);
    const res = await fetchFeed(feed.url, { ...this.fetchOpts, etag: feed.etag, lastModified: feed.lastModified });
    if (res.kind === 'not_modified') {
      const now = this.o.clock();
      outcome = { ...base, outcome: 'not_modified', httpStatus: 304, finishedAt: now, nextDueAt: scheduled(now) };
    } else if (res.kind === 'retry_later') {
      const now = this.o.clock();
      const wait = res.retryAfterMs ?? this.backoff(feed.consecutiveFailures + 1);
      outcome = {
        ...base,
        outcome: 'retry_later',
        httpStatus: res.status,
        error: res.message,
        finishedAt: now,
        // never sooner than the server asked, nor than the schedule
        nextDueAt: Math.max(now + Math.min(wait, 24 * 3600_000), scheduled(now)),
      };
    } else if (res.kind === 'error') {
      outcome = this.failed(feed, base, res.status, res.message);
    } else {
      outcome = await this.deliver(feed, base, res.body, res.finalUrl, res.charset);
      if (outcome.outcome === 'items') {
        outcome.etag = res.etag;
        outcome.lastModified = res.lastModified;
        if (res.permanentlyMoved) outcome.newUrl = res.finalUrl;
      }
    }
    await this.recordJob(feed, outcome);
    const kept = await this.o.store.finish(feed, this.owner, outcome);
    if (!kept) return undefined;
    const report = { ...outcome, feedId: feed.id, url: feed.url };
    this.o.onPoll?.(report);
    return report;
  }

  private failed(
    feed: Feed,
    base: Pick<PollOutcome, 'jobId' | 'dueAt' | 'startedAt' | 'items' | 'produced'>,
    status: number | null,
    message: string,
  ): PollOutcome {
    const now = this.o.clock();
    return {
      ...base,
      outcome: 'error',
      httpStatus: status,
      error: message,
      finishedAt: now,
      nextDueAt: Math.max(now + this.backoff(feed.consecutiveFailures + 1), nextDue(feed.schedule, now)),
    };
  }

  /** Parse all-or-nothing, produce only the items this feed never produced before, as one job. */
  private async deliver(
    feed: Feed,
    base: Pick<PollOutcome, 'jobId' | 'dueAt' | 'startedAt' | 'items' | 'produced'>,
    body: Buffer,
    finalUrl: string,
    charset: string | null,
  ): Promise<PollOutcome> {
    let items: FeedItem[];
    try {
      items = (
        await parseFeedBody(body, { feedUrl: finalUrl, source: feed.source, httpCharset: charset, now: base.startedAt })
      ).items;
    } catch (e) {
      if (e instanceof FeedParseError) return this.failed(feed, base, 200, e.message);
      throw e;
    }
    const unique = [...new Map(items.map((i) => [i.item_id, i])).values()];
    // items without a date carry the poll time; the job says how many
    const undated = unique.filter((i) => i.dateFromPoll).length;
    const seen = await this.o.pool.query<{ item_id: string }>(
      'SELECT item_id FROM feed_items WHERE feed_id = $1 AND item_id = ANY($2)',
      [feed.id, unique.map((i) => i.item_id)],
    );
    const old = new Set(seen.rows.map((r) => r.item_id));
    const fresh = unique.filter((i) => !old.has(i.item_id));
    if (fresh.length) {
      const ingestedAt = this.o.clock();
      // the job exists before its records, as with POST /v1/items
      await this.recordJob(feed, {
        ...base,
        outcome: 'items',
        produced: fresh.length,
        items: items.length,
        undated,
        error: null,
        httpStatus: 200,
        finishedAt: ingestedAt,
        nextDueAt: ingestedAt,
      });
      try {
        await this.o.sink.send(fresh.map((i) => toRawHeadline(i, base.jobId, ingestedAt)));
      } catch (e) {
        return this.failed(
          feed,
          { ...base, items: items.length },
          200,
          `producing to raw-headlines failed: ${(e as Error).message}`,
        );
      }
      // after the produce: a crash in between re-produces the same keys, which downstream absorbs
      await this.o.pool.query(
        'INSERT INTO feed_items (feed_id, item_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING',
        [feed.id, fresh.map((i) => i.item_id)],
      );
    }
    const now = this.o.clock();
    return {
      ...base,
      outcome: 'items',
      httpStatus: 200,
      error: null,
      items: items.length,
      produced: fresh.length,
      undated,
      finishedAt: now,
      nextDueAt: nextDue(feed.schedule, now),
    };
  }

  /** Each poll is a job (GET /v1/jobs): kind ingest, caller poller:feed/<id>, the poll in details. */
  private async recordJob(feed: Feed, o: PollOutcome): Promise<void> {
    const status = o.outcome === 'error' ? 'failed' : o.produced > 0 ? 'running' : 'done';
    await this.o.pool.query(
      `INSERT INTO jobs (id, kind, caller, expected_count, status, details) VALUES ($1, 'ingest', $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET details = jobs.details || EXCLUDED.details, caller = EXCLUDED.caller,
         expected_count = EXCLUDED.expected_count,
         status = CASE WHEN EXCLUDED.status = 'failed' THEN 'failed' ELSE jobs.status END`,
      [
        o.jobId,
        `poller:feed/${feed.id}`,
        o.produced,
        status,
        JSON.stringify({
          undated_items: o.undated ?? 0,
          feed_id: feed.id,
          url: feed.url,
          outcome: o.outcome,
          http_status: o.httpStatus,
          items: o.items,
          error: o.error,
          poller: this.owner,
        }),
      ],
    );
  }
}
