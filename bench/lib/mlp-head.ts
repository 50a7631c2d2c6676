// Experiment only (bench/classify-stack-extra.ts, issue 16): not part of the classify package.
import { columnStats } from '../../processors/classify/src/embedding-head.ts';
import { mulberry32 } from '../../processors/classify/src/rng.ts';

/**
 * One-hidden-layer perceptron on sentence embeddings: every dimension standardised by the training
 * rows' mean and standard deviation, then softmax(W2 · relu(W1 · z + b1) + b2), trained by Adam on
 * minibatches with decoupled weight decay (AdamW) and dropout on the hidden layer. Seeded: the same
 * rows, options and seed give the same weights.
 */
export interface MlpHead {
  dims: number;
  hidden: number;
  classes: number;
  mean: Float32Array;
  invStd: Float32Array;
  /** hidden × dims, row-major */
  w1: Float32Array;
  b1: Float32Array;
  /** classes × hidden, row-major */
  w2: Float32Array;
  b2: Float32Array;
}

export interface MlpOptions {
  /** hidden units; default 256 */
  hidden?: number;
  /** epochs; default 20 */
  epochs?: number;
  /** Adam learning rate; default 1e-3 */
  lr?: number;
  /** decoupled weight decay per step, as a fraction of lr; default 1e-2 */
  weightDecay?: number;
  /** dropout on the hidden units while training; default 0.2 */
  dropout?: number;
  batch?: number;
  seed?: number;
  /** called after each epoch with the model so far (e.g. to score held-out rows for early stopping) */
  onEpoch?: (epoch: number, model: MlpHead) => void;
}

export function trainMlpHead(
  X: readonly Float32Array[],
  y: readonly number[],
  classes: number,
  opts: MlpOptions = {},
): MlpHead {
  if (X.length === 0 || X.length !== y.length)
    throw new RangeError('trainMlpHead: X and y must be non-empty and of equal length');
  const D = X[0]!.length;
  const n = X.length;
  const H = opts.hidden ?? 256;
  const C = classes;
  const epochs = opts.epochs ?? 20;
  const lr = opts.lr ?? 1e-3;
  const wd = opts.weightDecay ?? 1e-2;
  const drop = opts.dropout ?? 0.2;
  const B = opts.batch ?? 32;
  const rand = mulberry32(opts.seed ?? 1);
  const stats = columnStats(X);
  // the mean kept (and used for Z) in single precision, as the model stores it
  const mean = Float32Array.from(stats.mean);
  const invStd = stats.invStd;
  const Z = new Float32Array(n * D);
  X.forEach((v, i) => {
    for (let j = 0; j < D; j++) Z[i * D + j] = (v[j]! - mean[j]!) * invStd[j]!;
  });
  // He-uniform initialisation
  const w1 = new Float32Array(H * D);
  const a1 = Math.sqrt(6 / D);
  for (let k = 0; k < w1.length; k++) w1[k] = (rand() * 2 - 1) * a1;
  const b1 = new Float32Array(H);
  const w2 = new Float32Array(C * H);
  const a2 = Math.sqrt(6 / H);
  for (let k = 0; k < w2.length; k++) w2[k] = (rand() * 2 - 1) * a2;
  const b2 = new Float32Array(C);
  const params = [w1, b1, w2, b2];
  const grads = params.map((p) => new Float32Array(p.length));
  const m1 = params.map((p) => new Float32Array(p.length));
  const m2 = params.map((p) => new Float32Array(p.length));
  const [gw1, gb1, gw2, gb2] = grads as [Float32Array, Float32Array, Float32Array, Float32Array];
  const h = new Float32Array(H);
  const mask = new Float32Array(H);
  const dh = new Float32Array(H);
  const s = new Float64Array(C);
  const order = Array.from({ length: n }, (_, i) => i);
  const model: MlpHead = { dims: D, hidden: H, classes: C, mean, invStd, w1, b1, w2, b2 };
  let t = 0;
  const beta1 = 0.9;
  const beta2 = 0.999;
  const keep = 1 - drop;
  for (let ep = 0; ep < epochs; ep++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const tmp = order[i]!;
      order[i] = order[j]!;
      order[j] = tmp;
    }
    for (let start = 0; start < n; start += B) {
      const end = Math.min(n, start + B);
      for (const g of grads) g.fill(0);
      const inv = 1 / (end - start);
      for (let o = start; o < end; o++) {
        const i = order[o]!;
        const zo = i * D;
        for (let u = 0; u < H; u++) {
          let a = b1[u]!;
          const wo = u * D;
          for (let j = 0; j < D; j++) a += w1[wo + j]! * Z[zo + j]!;
          const keepIt = drop > 0 ? (rand() < keep ? 1 / keep : 0) : 1;
          mask[u] = a > 0 ? keepIt : 0;
          h[u] = a > 0 ? a * keepIt : 0;
        }
        let mx = Number.NEGATIVE_INFINITY;
        for (let c = 0; c < C; c++) {
          let a = b2[c]!;
          const wo = c * H;
          for (let u = 0; u < H; u++) a += w2[wo + u]! * h[u]!;
          s[c] = a;
          if (a > mx) mx = a;
        }
        let zs = 0;
        for (let c = 0; c < C; c++) {
          s[c] = Math.exp(s[c]! - mx);
          zs += s[c]!;
        }
        dh.fill(0);
        for (let c = 0; c < C; c++) {
          const r = (s[c]! / zs - (c === y[i] ? 1 : 0)) * inv;
          gb2[c]! += r;
          const wo = c * H;
          for (let u = 0; u < H; u++) {
            gw2[wo + u]! += r * h[u]!;
            dh[u]! += r * w2[wo + u]!;
          }
        }
        for (let u = 0; u < H; u++) {
          const d = dh[u]! * mask[u]!;
          if (d === 0) continue;
          gb1[u]! += d;
          const wo = u * D;
          for (let j = 0; j < D; j++) gw1[wo + j]! += d * Z[zo + j]!;
        }
      }
      t++;
      const c1 = 1 / (1 - beta1 ** t);
      const c2 = 1 / (1 - beta2 ** t);
      params.forEach((p, k) => {
        const g = grads[k]!;
        const mm = m1[k]!;
        const vv = m2[k]!;
        const decay = k === 0 || k === 2 ? 1 - lr * wd : 1;
        for (let q = 0; q < p.length; q++) {
          const gq = g[q]!;
          mm[q] = beta1 * mm[q]! + (1 - beta1) * gq;
          vv[q] = beta2 * vv[q]! + (1 - beta2) * gq * gq;
          p[q] = p[q]! * decay - (lr * (mm[q]! * c1)) / (Math.sqrt(vv[q]! * c2) + 1e-8);
        }
      });
    }
    opts.onEpoch?.(ep + 1, model);
  }
  return model;
}

/** Class probabilities of one vector. */
export function mlpProbabilities(m: MlpHead, v: Float32Array): Float64Array {
  const { dims: D, hidden: H, classes: C } = m;
  const z = new Float32Array(D);
  for (let j = 0; j < D; j++) z[j] = (v[j]! - m.mean[j]!) * m.invStd[j]!;
  const h = new Float32Array(H);
  for (let u = 0; u < H; u++) {
    let a = m.b1[u]!;
    const wo = u * D;
    for (let j = 0; j < D; j++) a += m.w1[wo + j]! * z[j]!;
    h[u] = Math.max(a, 0);
  }
  const out = new Float64Array(C);
  let mx = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < C; c++) {
    let a = m.b2[c]!;
    const wo = c * H;
    for (let u = 0; u < H; u++) a += m.w2[wo + u]! * h[u]!;
    out[c] = a;
    if (a > mx) mx = a;
  }
  let zs = 0;
  for (let c = 0; c < C; c++) {
    out[c] = Math.exp(out[c]! - mx);
    zs += out[c]!;
  }
  for (let c = 0; c < C; c++) out[c]! /= zs;
  return out;
}
