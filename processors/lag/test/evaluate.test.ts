import { describe, expect, it } from 'vitest';
import {
  lagAlwaysNotZero,
  lagNotDecreasing,
  type Observation,
  offsetsStalled,
  offsetsStopped,
  partitionStatus,
  recentLagZero,
  rewindIndex,
} from '../src/evaluate.ts';
import type { LagStatus } from '../src/types.ts';

/**
 * Burrow's own correctness table (core/internal/evaluator/caching_test.go, `tests`), case for case:
 * each rule's answer and the resulting status. Case 11 is left out: it holds observations without
 * a lag, which this window never records.
 */
interface Case {
  n: number;
  why: string;
  /** [offset, timestamp ms, lag] */
  offsets: [number, number, number][];
  brokerEnds: number[];
  currentLag: number;
  nowSeconds: number;
  allowedLag: number;
  rules: {
    lagAlwaysNotZero: boolean;
    rewindIndex: number;
    stopped: boolean;
    stalled: boolean;
    lagNotDecreasing: boolean;
    recentLagZero: boolean;
  };
  status: LagStatus;
}

const burrow: Case[] = [
  {
    n: 0,
    why: 'returns OK because there is zero lag somewhere',
    offsets: [
      [1000, 100000, 0],
      [2000, 200000, 50],
      [3000, 300000, 100],
      [4000, 400000, 150],
      [5000, 500000, 200],
    ],
    brokerEnds: [5200],
    currentLag: 200,
    nowSeconds: 600,
    allowedLag: 0,
    rules: {
      lagAlwaysNotZero: false,
      rewindIndex: -1,
      stopped: false,
      stalled: false,
      lagNotDecreasing: true,
      recentLagZero: false,
    },
    status: 'OK',
  },
  {
    n: 1,
    why: 'same status. does not return true for stop because time since last commit (400s) is equal to the difference (500-100), not greater than',
    offsets: [
      [1000, 100000, 0],
      [2000, 200000, 50],
      [3000, 300000, 100],
      [4000, 400000, 150],
      [5000, 500000, 200],
    ],
    brokerEnds: [5200],
    currentLag: 200,
    nowSeconds: 900,
    allowedLag: 0,
    rules: {
      lagAlwaysNotZero: false,
      rewindIndex: -1,
      stopped: false,
      stalled: false,
      lagNotDecreasing: true,
      recentLagZero: false,
    },
    status: 'OK',
  },
  {
    n: 2,
    why: 'status is now STOP because the time since last commit is great enough (500s), even though lag is zero at the start (fixed due to #290)',
    offsets: [
      [1000, 100000, 0],
      [2000, 200000, 50],
      [3000, 300000, 100],
      [4000, 400000, 150],
      [5000, 500000, 200],
    ],
    brokerEnds: [5200],
    currentLag: 200,
    nowSeconds: 1000,
    allowedLag: 0,
    rules: {
      lagAlwaysNotZero: false,
      rewindIndex: -1,
      stopped: true,
      stalled: false,
      lagNotDecreasing: true,
      recentLagZero: false,
    },
    status: 'STOP',
  },
  {
    n: 3,
    why: 'status is STOP when lag is always non-zero as well',
    offsets: [
      [1000, 100000, 50],
      [2000, 200000, 100],
      [3000, 300000, 150],
      [4000, 400000, 200],
      [5000, 500000, 250],
    ],
    brokerEnds: [5250],
    currentLag: 250,
    nowSeconds: 1000,
    allowedLag: 0,
    rules: {
      lagAlwaysNotZero: true,
      rewindIndex: -1,
      stopped: true,
      stalled: false,
      lagNotDecreasing: true,
      recentLagZero: false,
    },
    status: 'STOP',
  },
  {
    n: 4,
    why: 'status is OK because of zero lag, but stall is true because the offset is always the same and there is lag (another commit with turn this to stall)',
    offsets: [
      [1000, 100000, 0],
      [1000, 200000, 50],
      [1000, 300000, 100],
      [1000, 400000, 150],
      [1000, 500000, 200],
    ],
    brokerEnds: [1200],
    currentLag: 200,
    nowSeconds: 600,
    allowedLag: 0,
    rules: {
      lagAlwaysNotZero: false,
      rewindIndex: -1,
      stopped: false,
      stalled: true,
      lagNotDecreasing: true,
      recentLagZero: false,
    },
    status: 'OK',
  },
  {
    n: 5,
    why: 'status is now STALL because the lag is always non-zero',
    offsets: [
      [1000, 100000, 100],
      [1000, 200000, 150],
      [1000, 300000, 200],
      [1000, 400000, 250],
      [1000, 500000, 300],
    ],
    brokerEnds: [1300],
    currentLag: 300,
    nowSeconds: 600,
    allowedLag: 0,
    rules: {
      lagAlwaysNotZero: true,
      rewindIndex: -1,
      stopped: false,
      stalled: true,
      lagNotDecreasing: true,
      recentLagZero: false,
    },
    status: 'STALL',
  },
  {
    n: 6,
    why: 'status is still STALL even when the lag stays the same',
    offsets: [
      [1000, 100000, 100],
      [1000, 200000, 100],
      [1000, 300000, 100],
      [1000, 400000, 100],
      [1000, 500000, 100],
    ],
    brokerEnds: [1100],
    currentLag: 100,
    nowSeconds: 600,
    allowedLag: 0,
    rules: {
      lagAlwaysNotZero: true,
      rewindIndex: -1,
      stopped: false,
      stalled: true,
      lagNotDecreasing: true,
      recentLagZero: false,
    },
    status: 'STALL',
  },
  {
    n: 7,
    why: 'status is OK because the offsets go backwards, but though the lag does decrease within the window (caught up the rewind)',
    offsets: [
      [1000, 100000, 100],
      [2000, 200000, 150],
      [3000, 300000, 200],
      [2000, 400000, 1250],
      [4000, 500000, 300],
    ],
    brokerEnds: [4300],
    currentLag: 300,
    nowSeconds: 600,
    allowedLag: 0,
    rules: {
      lagAlwaysNotZero: true,
      rewindIndex: 3,
      stopped: false,
      stalled: false,
      lagNotDecreasing: false,
      recentLagZero: false,
    },
    status: 'OK',
  },
  {
    n: 8,
    why: 'status is OK because the current lag is 0 (even though the offsets show lag), even though it would be considered stopped due to timestamps',
    offsets: [
      [1000, 100000, 50],
      [2000, 200000, 100],
      [3000, 300000, 150],
      [4000, 400000, 200],
      [5000, 500000, 250],
    ],
    brokerEnds: [5250],
    currentLag: 0,
    nowSeconds: 1000,
    allowedLag: 0,
    rules: {
      lagAlwaysNotZero: true,
      rewindIndex: -1,
      stopped: true,
      stalled: false,
      lagNotDecreasing: true,
      recentLagZero: false,
    },
    status: 'OK',
  },
  {
    n: 9,
    why: 'status is STOP due to timestamps because the current lag is non-zero, even though lag is always zero in offsets, only because there is new data (#290)',
    offsets: [
      [792748079, 1512224618356, 0],
      [792748080, 1512224619362, 0],
      [792748081, 1512224620366, 0],
      [792748082, 1512224621367, 0],
      [792748083, 1512224622370, 0],
      [792748084, 1512224623373, 0],
      [792748085, 1512224624378, 0],
      [792748086, 1512224625379, 0],
      [792748087, 1512224626383, 0],
      [792748088, 1512224627383, 0],
      [792748089, 1512224628383, 0],
      [792748090, 1512224629388, 0],
      [792748091, 1512224630391, 0],
      [792748092, 1512224631394, 0],
      [792748093, 1512224632397, 0],
    ],
    brokerEnds: [792749024, 792749000, 792748800, 792748600, 792748500],
    currentLag: 931,
    nowSeconds: 1512224650,
    allowedLag: 0,
    rules: {
      lagAlwaysNotZero: false,
      rewindIndex: -1,
      stopped: true,
      stalled: false,
      lagNotDecreasing: true,
      recentLagZero: false,
    },
    status: 'STOP',
  },
  {
    n: 10,
    why: 'status is OK, even though it would be stop due to timestamps, as within the recent broker offset window the lag was zero (#303)',
    offsets: [
      [792748079, 1512224618356, 0],
      [792748080, 1512224619362, 0],
      [792748081, 1512224620366, 0],
      [792748082, 1512224621367, 0],
      [792748083, 1512224622370, 0],
      [792748084, 1512224623373, 0],
      [792748085, 1512224624378, 0],
      [792748086, 1512224625379, 0],
      [792748087, 1512224626383, 0],
      [792748088, 1512224627383, 0],
      [792748089, 1512224628383, 0],
      [792748090, 1512224629388, 0],
      [792748091, 1512224630391, 0],
      [792748092, 1512224631394, 0],
      [792748093, 1512224632397, 0],
    ],
    brokerEnds: [792748094, 792748093, 792748093, 792748093],
    currentLag: 1,
    nowSeconds: 1512224650,
    allowedLag: 0,
    rules: {
      lagAlwaysNotZero: false,
      rewindIndex: -1,
      stopped: true,
      stalled: false,
      lagNotDecreasing: true,
      recentLagZero: true,
    },
    status: 'OK',
  },
  {
    n: 12,
    why: 'status is OK despite the fact that the current lag is greater zero and the time since last commit is great enough because of the configured allowed lag',
    offsets: [
      [1000, 100000, 2],
      [2000, 200000, 1],
      [2000, 300000, 1],
    ],
    brokerEnds: [2001],
    currentLag: 1,
    nowSeconds: 550,
    allowedLag: 1,
    rules: {
      lagAlwaysNotZero: false,
      rewindIndex: -1,
      stopped: true,
      stalled: false,
      lagNotDecreasing: false,
      recentLagZero: false,
    },
    status: 'OK',
  },
  {
    n: 13,
    why: 'same as 5 but with an allowed lag',
    offsets: [
      [1000, 100000, 100],
      [1000, 200000, 150],
      [1000, 300000, 200],
      [1000, 400000, 250],
      [1000, 500000, 300],
    ],
    brokerEnds: [1300],
    currentLag: 300,
    nowSeconds: 600,
    allowedLag: 99,
    rules: {
      lagAlwaysNotZero: true,
      rewindIndex: -1,
      stopped: false,
      stalled: true,
      lagNotDecreasing: true,
      recentLagZero: false,
    },
    status: 'STALL',
  },
  {
    n: 14,
    why: 'same as 7 but with an allowed lag',
    offsets: [
      [1000, 100000, 100],
      [2000, 200000, 150],
      [3000, 300000, 200],
      [2000, 400000, 1250],
      [4000, 500000, 300],
    ],
    brokerEnds: [4300],
    currentLag: 300,
    nowSeconds: 600,
    allowedLag: 99,
    rules: {
      lagAlwaysNotZero: true,
      rewindIndex: 3,
      stopped: false,
      stalled: false,
      lagNotDecreasing: false,
      recentLagZero: false,
    },
    status: 'OK',
  },
  {
    n: 15,
    why: 'Rewind, but we did not catch up to the previous point',
    offsets: [
      [1000, 100000, 100],
      [2000, 200000, 150],
      [3000, 300000, 200],
      [2000, 400000, 1250],
      [2500, 500000, 300],
    ],
    brokerEnds: [4300],
    currentLag: 300,
    nowSeconds: 600,
    allowedLag: 0,
    rules: {
      lagAlwaysNotZero: true,
      rewindIndex: 3,
      stopped: false,
      stalled: false,
      lagNotDecreasing: false,
      recentLagZero: false,
    },
    status: 'REWIND',
  },
];

describe("Burrow's evaluator rules", () => {
  it.each(burrow)('case $n: $why', (c) => {
    const obs: Observation[] = c.offsets.map(([offset, at, lag]) => ({ offset, at, lag }));
    const now = c.nowSeconds * 1000;
    expect({
      lagAlwaysNotZero: lagAlwaysNotZero(obs, c.allowedLag),
      rewindIndex: rewindIndex(obs),
      stopped: offsetsStopped(obs, now),
      stalled: offsetsStalled(obs),
      lagNotDecreasing: lagNotDecreasing(obs),
      recentLagZero: recentLagZero(obs, c.brokerEnds),
    }).toEqual(c.rules);
    expect(partitionStatus(obs, c.brokerEnds, c.currentLag, now, c.allowedLag)).toBe(c.status);
  });
});
