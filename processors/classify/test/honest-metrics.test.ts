import { describe, expect, it } from 'vitest';
import type { Dataset } from '../src/data.ts';
import { thinClasses } from '../src/guard.ts';
import { evaluate, expectedCalibrationError } from '../src/metrics.ts';

describe('honest classifier metrics (issue 16)', () => {
  it('macro-F1 averages every class of the label set, a class missing from the hold-out counting 0', () => {
    // truth has only a and b; c exists in the label set but not in this hold-out
    const m = evaluate([0, 0, 1, 1], [0, 0, 1, 1], ['a', 'b', 'c']);
    expect(m.macroF1Present).toBeCloseTo(1);
    expect(m.macroF1).toBeCloseTo(2 / 3);
    expect(m.confusion).toEqual([
      [2, 0, 0],
      [0, 2, 0],
      [0, 0, 0],
    ]);
  });

  it('refuses classes with too few rows, or all in one story when splitting by story', () => {
    const ds = {
      path: 'x',
      format: 'csv',
      labels: ['big', 'thin', 'onestory'],
      examples: [
        ...Array.from({ length: 30 }, (_, i) => ({ title: `b${i}`, label: 'big', group: `g${i % 5}` })),
        ...Array.from({ length: 3 }, (_, i) => ({ title: `t${i}`, label: 'thin', group: `h${i}` })),
        ...Array.from({ length: 25 }, (_, i) => ({ title: `o${i}`, label: 'onestory', group: 'only' })),
      ],
    } as unknown as Dataset;
    expect(thinClasses(ds, 20, true).map((c) => c.label)).toEqual(['thin', 'onestory']);
    expect(thinClasses(ds, 20, false).map((c) => c.label)).toEqual(['thin']);
    expect(thinClasses(ds, 0, true)).toEqual([]);
  });

  it('expected calibration error is 0 for frequencies and grows with over-confidence', () => {
    const conf = [0.75, 0.75, 0.75, 0.75];
    expect(expectedCalibrationError(conf, [true, true, true, false])).toBeCloseTo(0);
    expect(expectedCalibrationError([0.99, 0.99], [true, false])).toBeCloseTo(0.49);
  });
});
