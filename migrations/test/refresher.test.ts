import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ViewRefresher } from '../src/views.ts';

/** Stands in for the pool: records each REFRESH statement and takes `ms` to answer. */
function recordingPool(ms = 20) {
  const calls: { sql: string; at: number }[] = [];
  let running = 0;
  let maxRunning = 0;
  const pool = {
    async query(sql: string) {
      running++;
      maxRunning = Math.max(maxRunning, running);
      calls.push({ sql, at: Date.now() });
      await sleep(ms);
      running--;
      return { rows: [] };
    },
  } as unknown as pg.Pool;
  return { pool, calls, maxRunning: () => maxRunning };
}

describe('ViewRefresher', () => {
  it('a burst of pokes gives one refresh of every view, CONCURRENTLY, after the burst', async () => {
    const p = recordingPool();
    const r = new ViewRefresher(p.pool, { debounceMs: 200, maxDelayMs: 2_000, intervalMs: 60_000 });
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) {
      r.poke();
      await sleep(5);
    }
    await sleep(500);
    await r.stop();
    expect(r.refreshes).toBe(1);
    expect(p.calls.map((c) => c.sql)).toEqual([
      'REFRESH MATERIALIZED VIEW CONCURRENTLY job_progress',
      'REFRESH MATERIALIZED VIEW CONCURRENTLY story_summary',
    ]);
    expect(p.calls[0]!.at - t0).toBeGreaterThanOrEqual(200); // waited for the burst to pause
  });

  it('steady writes still refresh by the ceiling, one refresh at a time', async () => {
    const p = recordingPool(30);
    const r = new ViewRefresher(p.pool, { debounceMs: 100, maxDelayMs: 250, intervalMs: 60_000, maxDutyCycle: 1 });
    const until = Date.now() + 1_000;
    while (Date.now() < until) {
      r.poke(); // never quiet for 100 ms
      await sleep(20);
    }
    await r.stop();
    expect(r.refreshes).toBeGreaterThanOrEqual(3);
    expect(p.maxRunning()).toBe(1);
  });

  it('spends at most maxDutyCycle of the time refreshing under steady writes (a refresh of t, then ≥ 4t without)', async () => {
    const p = recordingPool(40); // two views: a refresh takes ≥ 80 ms
    const r = new ViewRefresher(p.pool, { debounceMs: 5, maxDelayMs: 10, intervalMs: 60_000 });
    const t0 = Date.now();
    while (Date.now() < t0 + 1_500) {
      r.poke();
      await sleep(5);
    }
    await r.stop();
    const starts = p.calls.filter((c) => c.sql.endsWith('job_progress')).map((c) => c.at);
    expect(starts.length).toBeGreaterThanOrEqual(2);
    // from one refresh's start to the next: its own ≥ 80 ms, then ≥ 4 × 80 ms of rest
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(5 * 80 - 10);
    // without the cap the same pokes refresh back to back
    const q = recordingPool(40);
    const free = new ViewRefresher(q.pool, { debounceMs: 5, maxDelayMs: 10, intervalMs: 60_000, maxDutyCycle: 1 });
    const t1 = Date.now();
    while (Date.now() < t1 + 1_500) {
      free.poke();
      await sleep(5);
    }
    await free.stop();
    expect(free.refreshes).toBeGreaterThan(2 * r.refreshes);
  });

  it('stop() does not wait out the rest, and a refresh asked for during it does not run', async () => {
    const p = recordingPool(100);
    const r = new ViewRefresher(p.pool, { intervalMs: 60_000 });
    await r.refreshNow(); // 200 ms: the next may start 800 ms after
    const pending = r.refreshNow();
    const t0 = Date.now();
    await r.stop();
    await pending;
    expect(Date.now() - t0).toBeLessThan(200);
    expect(r.refreshes).toBe(1);
  });

  it('refuses a duty cycle outside (0, 1]', () => {
    const p = recordingPool();
    expect(() => new ViewRefresher(p.pool, { maxDutyCycle: 0 })).toThrow(RangeError);
    expect(() => new ViewRefresher(p.pool, { maxDutyCycle: 1.5 })).toThrow(RangeError);
  });

  it('refreshes on its schedule without writes, and stops', async () => {
    const p = recordingPool(5);
    const r = new ViewRefresher(p.pool, { intervalMs: 100 }).start();
    await sleep(350);
    await r.stop();
    const n = r.refreshes;
    expect(n).toBeGreaterThanOrEqual(2);
    await sleep(250);
    expect(r.refreshes).toBe(n);
  });
});
