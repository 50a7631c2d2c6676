import { lbfgs } from './lbfgs.ts';

/**
 * Softmax (multinomial logistic regression) head on sentence embeddings: every dimension
 * standardised by the training rows' mean and standard deviation, then W·z + b fit by L-BFGS
 * on the mean log-loss + (l2 / 2)·‖W‖². Deterministic (no sampling).
 */
export interface EmbeddingHead {
  dims: number;
  classes: number;
  mean: Float32Array;
  /** 1 / standard deviation per dimension */
  invStd: Float32Array;
  /** classes × dims, row-major */
  w: Float32Array;
  b: Float32Array;
}

export interface HeadOptions {
  /** L2 strength on W; default 0.1 (train-fused chooses it out of fold) */
  l2?: number;
  maxIter?: number;
  /** per-class loss weights (class balancing); default all 1 */
  classWeights?: readonly number[];
}

/**
 * Per-dimension mean (in doubles) and 1 / standard deviation (0 for a constant dimension) of the
 * rows: the standardisation a head learns on its training vectors and applies at prediction.
 */
export function columnStats(X: readonly Float32Array[]): { mean: Float64Array; invStd: Float32Array } {
  const D = X[0]!.length;
  const n = X.length;
  const mean = new Float64Array(D);
  const sq = new Float64Array(D);
  for (const v of X) for (let j = 0; j < D; j++) mean[j]! += v[j]!;
  for (let j = 0; j < D; j++) mean[j]! /= n;
  for (const v of X)
    for (let j = 0; j < D; j++) {
      const d = v[j]! - mean[j]!;
      sq[j]! += d * d;
    }
  const invStd = new Float32Array(D);
  for (let j = 0; j < D; j++) {
    const sd = Math.sqrt(sq[j]! / n);
    invStd[j] = sd > 1e-8 ? 1 / sd : 0;
  }
  return { mean, invStd };
}

export function trainEmbeddingHead(
  X: readonly Float32Array[],
  y: readonly number[],
  classes: number,
  opts: HeadOptions = {},
): EmbeddingHead {
  if (X.length === 0 || X.length !== y.length)
    throw new RangeError('trainEmbeddingHead: X and y must be non-empty and of equal length');
  const D = X[0]!.length;
  const n = X.length;
  const { mean, invStd } = columnStats(X);
  const Z = new Float64Array(n * D);
  X.forEach((v, i) => {
    for (let j = 0; j < D; j++) Z[i * D + j] = (v[j]! - mean[j]!) * invStd[j]!;
  });
  const l2 = opts.l2 ?? 0.1;
  const cw = opts.classWeights ?? new Array<number>(classes).fill(1);
  let wsum = 0;
  for (const c of y) wsum += cw[c]!;
  const C = classes;
  const P = C * D + C;
  const s = new Float64Array(C);
  const fg = (x: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const off = i * D;
      let mx = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < C; c++) {
        let a = x[C * D + c]!;
        const wo = c * D;
        for (let j = 0; j < D; j++) a += x[wo + j]! * Z[off + j]!;
        s[c] = a;
        if (a > mx) mx = a;
      }
      let z = 0;
      for (let c = 0; c < C; c++) {
        s[c] = Math.exp(s[c]! - mx);
        z += s[c]!;
      }
      const yi = y[i]!;
      const wi = cw[yi]! / wsum;
      loss -= wi * Math.log(Math.max(s[yi]! / z, 1e-300));
      for (let c = 0; c < C; c++) {
        const r = wi * (s[c]! / z - (c === yi ? 1 : 0));
        if (r === 0) continue;
        const wo = c * D;
        for (let j = 0; j < D; j++) grad[wo + j]! += r * Z[off + j]!;
        grad[C * D + c]! += r;
      }
    }
    for (let k = 0; k < C * D; k++) {
      loss += 0.5 * l2 * x[k]! * x[k]!;
      grad[k]! += l2 * x[k]!;
    }
    return loss;
  };
  const { x } = lbfgs(fg, new Float64Array(P), { maxIter: opts.maxIter ?? 200 });
  return {
    dims: D,
    classes: C,
    mean: Float32Array.from(mean),
    invStd,
    w: Float32Array.from(x.subarray(0, C * D)),
    b: Float32Array.from(x.subarray(C * D)),
  };
}

/** Class probabilities of one vector. */
export function headProbabilities(h: EmbeddingHead, v: Float32Array): Float64Array {
  const D = h.dims;
  const out = new Float64Array(h.classes);
  let mx = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < h.classes; c++) {
    let a = h.b[c]!;
    const wo = c * D;
    for (let j = 0; j < D; j++) a += h.w[wo + j]! * (v[j]! - h.mean[j]!) * h.invStd[j]!;
    out[c] = a;
    if (a > mx) mx = a;
  }
  let z = 0;
  for (let c = 0; c < h.classes; c++) {
    out[c] = Math.exp(out[c]! - mx);
    z += out[c]!;
  }
  for (let c = 0; c < h.classes; c++) out[c]! /= z;
  return out;
}
