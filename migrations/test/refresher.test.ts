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
    const r = new ViewRefresher(p.pool, { debounceMs: 100, maxDelayMs: 250, intervalMs: 60_000 });
    const until = Date.now() + 1_000;
    while (Date.now() < until) {
      r.poke(); // never quiet for 100 ms
      await sleep(20);
    }
    await r.stop();
    expect(r.refreshes).toBeGreaterThanOrEqual(3);
    expect(p.maxRunning()).toBe(1);
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
