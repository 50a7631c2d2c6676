import { describe, expect, it } from 'vitest';
import { evaluateClustering } from '../src/metrics.ts';

describe('evaluateClustering (hand-computed)', () => {
  it('mixed partition: pairwise, B-cubed and ARI', () => {
    // contingency: A∩x=2, A∩y=1, B∩y=2; |A|=3 |B|=2 |x|=2 |y|=3
    const m = evaluateClustering(['A', 'A', 'A', 'B', 'B'], ['x', 'x', 'y', 'y', 'y']);
    // TP pairs = C(2,2)+C(2,2) = 2; predicted pairs = 3+1 = 4; gold pairs = 1+3 = 4
    expect(m.pairwise.precision).toBeCloseTo(0.5, 12);
    expect(m.pairwise.recall).toBeCloseTo(0.5, 12);
    expect(m.pairwise.f1).toBeCloseTo(0.5, 12);
    // B3 P = (4/3 + 1/3 + 4/2)/5 = 11/15; R = (4/2 + 1/3 + 4/3)/5 = 11/15
    expect(m.bcubed.precision).toBeCloseTo(11 / 15, 12);
    expect(m.bcubed.recall).toBeCloseTo(11 / 15, 12);
    expect(m.bcubed.f1).toBeCloseTo(11 / 15, 12);
    // ARI = (2 - 4*4/10) / ((4+4)/2 - 4*4/10) = 0.4 / 2.4
    expect(m.ari).toBeCloseTo(1 / 6, 12);
    expect(m.predictedClusters).toBe(2);
    expect(m.goldClusters).toBe(2);
  });

  it('identical partitions up to renaming score 1 everywhere', () => {
    const m = evaluateClustering(['p', 'p', 'q', 'r', 'r', 'r'], ['1', '1', '2', '3', '3', '3']);
    expect(m.pairwise.f1).toBe(1);
    expect(m.bcubed.f1).toBe(1);
    expect(m.ari).toBeCloseTo(1, 12);
  });

  it('everything in one cluster', () => {
    const m = evaluateClustering(['A', 'A', 'A', 'A'], ['x', 'x', 'y', 'y']);
    expect(m.pairwise.precision).toBeCloseTo(2 / 6, 12);
    expect(m.pairwise.recall).toBe(1);
    expect(m.bcubed.precision).toBeCloseTo(0.5, 12); // each item: 2 of 4 share its class
    expect(m.bcubed.recall).toBe(1);
    expect(m.bcubed.f1).toBeCloseTo(2 / 3, 12);
    expect(m.ari).toBeCloseTo(0, 12); // (2 - 6*2/6) / (4 - 2)
  });

  it('all singletons', () => {
    const m = evaluateClustering(['a', 'b', 'c', 'd'], ['x', 'x', 'y', 'y']);
    expect(m.pairwise.recall).toBe(0);
    expect(m.pairwise.f1).toBe(0);
    expect(m.bcubed.precision).toBe(1);
    expect(m.bcubed.recall).toBeCloseTo(0.5, 12);
    expect(m.bcubed.f1).toBeCloseTo(2 / 3, 12);
    expect(m.ari).toBeCloseTo(0, 12);
  });

  it('rejects mismatched lengths', () => {
    expect(() => evaluateClustering(['a'], [])).toThrow();
  });
});
