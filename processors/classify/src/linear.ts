import type { SparseVec } from './features.ts';

/**
 * Every method we train ends as the same thing: scores = W x + b over the hashed features, with W stored
 * feature-major (W[i * classes + c]) so one pass over a document's non-zeros scores all classes.
 */
export interface LinearWeights {
  dim: number;
  classes: number;
  w: Float32Array;
  b: Float32Array;
}

export function newWeights(dim: number, classes: number): LinearWeights {
  return { dim, classes, w: new Float32Array(dim * classes), b: new Float32Array(classes) };
}

export function scoreInto(m: LinearWeights, x: SparseVec, out: Float64Array): void {
  const C = m.classes;
  for (let c = 0; c < C; c++) out[c] = m.b[c]!;
  const { idx, val } = x;
  const w = m.w;
  for (let k = 0; k < idx.length; k++) {
    const base = idx[k]! * C;
    const v = val[k]!;
    for (let c = 0; c < C; c++) out[c]! += w[base + c]! * v;
  }
}

/** In-place softmax of scores / temperature; returns the arg max. */
export function softmaxInPlace(s: Float64Array, n: number, temperature = 1): number {
  let max = Number.NEGATIVE_INFINITY;
  let arg = 0;
  for (let c = 0; c < n; c++) {
    if (s[c]! > max) {
      max = s[c]!;
      arg = c;
    }
  }
  let z = 0;
  for (let c = 0; c < n; c++) {
    const e = Math.exp((s[c]! - max) / temperature);
    s[c] = e;
    z += e;
  }
  for (let c = 0; c < n; c++) s[c]! /= z;
  return arg;
}
