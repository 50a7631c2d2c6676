import { describe, expect, it } from 'vitest';
import { fromArrivals, quantiles } from './result.ts';

const restart = { stage: 'embed', atSecond: 1, downSeconds: 2 };

describe('fromArrivals', () => {
  it('counts an id seen twice as one arrival and one duplicate, and a missing id as lost', () => {
    const t0 = 1_000_000;
    const lines = [`a ${t0} ${t0 + 500}`, `b ${t0 + 10} ${t0 + 1_010}`, `a ${t0} ${t0 + 2_000}`, ''];
    const r = fromArrivals('x', 3, t0, lines, restart, '');
    expect(r.arrived).toBe(2);
    expect(r.duplicates).toBe(1);
    expect(r.lost).toBe(1);
    // the duplicate's later arrival does not count as latency, but it does end the run
    expect(r.latencySeconds.max).toBe(1);
    expect(r.seconds).toBe(2);
    expect(r.itemsPerSec).toBe(1);
  });

  it('reports zeros, not NaN, when nothing arrived', () => {
    const r = fromArrivals('x', 5, 0, [], restart, '');
    expect(r).toMatchObject({ arrived: 0, lost: 5, duplicates: 0, itemsPerSec: 0 });
    expect(r.latencySeconds).toEqual({ p50: 0, p95: 0, p99: 0, max: 0 });
  });
});

describe('quantiles', () => {
  it('takes nearest-rank percentiles of unsorted input', () => {
    const q = quantiles(Array.from({ length: 100 }, (_, i) => 100 - i));
    expect(q).toEqual({ p50: 51, p95: 96, p99: 100, max: 100 });
  });
});
