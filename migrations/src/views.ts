import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';

/** The materialized views of 0002_views.sql, each with the UNIQUE index CONCURRENTLY needs. */
export const materializedViews = ['job_progress', 'story_summary'] as const;
export type ViewName = (typeof materializedViews)[number];

export interface RefreshResult {
  view: ViewName;
  ms: number;
}

/**
 * REFRESH MATERIALIZED VIEW CONCURRENTLY for each view: readers keep reading the previous
 * contents (CONCURRENTLY takes an EXCLUSIVE lock, which blocks other refreshes but not SELECT).
 */
export async function refreshViews(
  pool: pg.Pool,
  views: readonly ViewName[] = materializedViews,
): Promise<RefreshResult[]> {
  const out: RefreshResult[] = [];
  for (const view of views) {
    if (!materializedViews.includes(view)) throw new Error(`unknown materialized view ${view}`);
    const t0 = performance.now();
    // Identifiers cannot be bind parameters; `view` is one of the fixed names above.
    await pool.query(`REFRESH MATERIALIZED VIEW CONCURRENTLY ${view}`);
    out.push({ view, ms: Math.round(performance.now() - t0) });
  }
  return out;
}

export interface ViewRefresherOptions {
  /** Refresh at least this often while running (default 30 s). */
  intervalMs?: number;
  /** After a burst of writes, refresh once they have been quiet this long (default 500 ms)… */
  debounceMs?: number;
  /** …but never later than this after the first write of the burst (default 5 s). */
  maxDelayMs?: number;
  /**
   * The largest share of the time spent refreshing (0 < d ≤ 1, default 0.2): a refresh that took
   * t is followed by at least t·(1 − d)/d without one (4t at 0.2), whatever the pokes. Under a
   * steady write load the refreshes of growing views otherwise ran back to back and took
   * PostgreSQL from the stages that write to it (cluster's state, the materializer itself).
   */
  maxDutyCycle?: number;
  onRefresh?: (r: RefreshResult[]) => void;
  onError?: (e: unknown) => void;
}

/**
 * Keeps the views fresh: on a schedule, and after bursts of writes (`poke()` after each commit;
 * debounced with a ceiling). One refresh at a time; a poke during a refresh schedules another,
 * which waits until the duty cycle allows it (`maxDutyCycle`).
 */
export class ViewRefresher {
  private readonly intervalMs: number;
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly maxDutyCycle: number;
  /** no refresh starts before this (Date.now() ms): the rest after the previous one */
  private notBefore = 0;
  private readonly cancelRest = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private interval: NodeJS.Timeout | undefined;
  private burstStart: number | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  refreshes = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly opts: ViewRefresherOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 30_000;
    this.debounceMs = opts.debounceMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 5_000;
    this.maxDutyCycle = opts.maxDutyCycle ?? 0.2;
    if (!(this.maxDutyCycle > 0 && this.maxDutyCycle <= 1)) {
      throw new RangeError(`maxDutyCycle must be in (0, 1], not ${opts.maxDutyCycle}`);
    }
  }

  start(): this {
    this.interval = setInterval(() => void this.refreshNow(), this.intervalMs);
    this.interval.unref();
    return this;
  }

  /** Note a write; the refresh follows when writes pause (or at the ceiling). */
  poke(): void {
    if (this.stopped) return;
    const now = Date.now();
    this.burstStart ??= now;
    const wait = Math.max(0, Math.min(this.debounceMs, this.burstStart + this.maxDelayMs - now));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refreshNow(), wait);
    this.timer.unref();
  }

  /**
   * Refresh now (or right after the refresh in progress, or once the rest the duty cycle asks
   * for is over); resolves when done.
   */
  refreshNow(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.burstStart = undefined;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          const rest = this.notBefore - Date.now();
          if (rest > 0) await sleep(rest, undefined, { signal: this.cancelRest.signal }).catch(() => {});
          if (this.stopped) break;
          this.again = false;
          const t0 = performance.now();
          const r = await refreshViews(this.pool);
          const took = performance.now() - t0;
          this.notBefore = Date.now() + (took * (1 - this.maxDutyCycle)) / this.maxDutyCycle;
          this.refreshes++;
          this.opts.onRefresh?.(r);
        } while (this.again && !this.stopped);
      } catch (e) {
        this.opts.onError?.(e);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelRest.abort();
    clearTimeout(this.timer);
    clearInterval(this.interval);
    await this.running;
  }
}
