// Pooling of token embeddings into one sentence vector (the function the ONNX worker runs).
import { describe, expect, it } from 'vitest';
import { MODELS } from '../src/models.ts';
import { poolRow } from '../src/pooling.mjs';

// batch 2, seqLen 3, dims 2; row 1 has 2 real tokens and one padding position (garbage values)
const hidden = Float32Array.from([
  // row 0
  3, 4, 1, 0, 0, 1,
  // row 1: [CLS] = (0, 2), then (2, 0), then padding (100, 100)
  0, 2, 2, 0, 100, 100,
]);

const pool = (b: number, n: number, pooling: 'mean' | 'cls', normalize: boolean) => {
  const out = new Float32Array(2);
  poolRow(hidden, b, 3, 2, n, pooling, normalize, out);
  return [...out];
};

describe('poolRow', () => {
  it("cls takes token 0's hidden state of its own row, whatever the other tokens hold", () => {
    expect(pool(0, 3, 'cls', false)).toEqual([3, 4]);
    expect(pool(1, 2, 'cls', false)).toEqual([0, 2]);
    const v = pool(0, 3, 'cls', true);
    expect(v[0]).toBeCloseTo(0.6, 6);
    expect(v[1]).toBeCloseTo(0.8, 6);
  });

  it('mean averages only the real tokens (padding ignored)', () => {
    expect(pool(0, 3, 'mean', false).map((x) => Number(x.toFixed(6)))).toEqual([1.333333, 1.666667]);
    expect(pool(1, 2, 'mean', false)).toEqual([1, 1]);
    const v = pool(1, 2, 'mean', true);
    expect(v[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(Math.hypot(...v)).toBeCloseTo(1, 6);
  });

  it('rejects an unknown pooling instead of returning zeros', () => {
    expect(() => poolRow(hidden, 0, 3, 2, 3, 'max' as 'mean', true, new Float32Array(2))).toThrow(/unknown pooling/);
  });

  it('the bge models pool with CLS, the MiniLM models with the mean', () => {
    expect(MODELS['bge-small-en-v1.5']!.pooling).toBe('cls');
    expect(MODELS['bge-small-en-v1.5-int8']!.pooling).toBe('cls');
    expect(MODELS['all-MiniLM-L6-v2-int8']!.pooling).toBe('mean');
    expect(MODELS['paraphrase-MiniLM-L3-v2']!.pooling).toBe('mean');
  });
});
