import type { SparseVec } from './features.ts';
import { type LinearWeights, newWeights, scoreInto, softmaxInPlace } from './linear.ts';
import { mulberry32 } from './rng.ts';

/**
 * - `softmax`: multinomial logistic regression (fastText-style linear model), SGD with linearly decaying lr.
 * - `nbsvm`: NB-weighted one-vs-rest logistic regression (Wang & Manning 2012, the LR variant): each class
 *   learns on x ∘ r_c, r_c the log-count ratio of the class vs the rest; r_c is folded into W afterwards.
 * - `nb-softmax`: the same NB scaling under a softmax loss.
 * - `cnb`: complement naive Bayes with weight normalisation (Rennie et al. 2003), closed form.
 * - `mnb`: multinomial naive Bayes, closed form (baseline).
 */
export type Method = 'softmax' | 'nbsvm' | 'nb-softmax' | 'cnb' | 'mnb';
export const METHODS: readonly Method[] = ['softmax', 'nbsvm', 'nb-softmax', 'cnb', 'mnb'];

export interface TrainParams {
  method: Method;
  epochs: number;
  /** Initial SGD learning rate (decays linearly to 0). */
  lr: number;
  /** L2 penalty per example step (SGD methods). */
  l2: number;
  /** Additive smoothing for the NB statistics. */
  alpha: number;
  seed: number;
}

export const DEFAULT_PARAMS: TrainParams = { method: 'softmax', epochs: 10, lr: 0.5, l2: 1e-5, alpha: 1, seed: 1 };

export interface Trained {
  weights: LinearWeights;
  /** Softmax temperature for calibrated-ish confidences (1 for softmax-trained models). */
  temperature: number;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  loss: number;
}

export function trainLinear(
  X: readonly SparseVec[],
  y: ArrayLike<number>,
  classes: number,
  dim: number,
  p: TrainParams,
  onProgress?: (e: TrainProgress) => void,
): Trained {
  if (X.length !== y.length) throw new RangeError('X and y differ in length');
  if (X.length === 0) throw new RangeError('no training examples');
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= classes) throw new RangeError(`label ${v} out of range`);
  }
  switch (p.method) {
    case 'softmax':
      return { weights: sgd(X, y, classes, dim, p, null, 'softmax', onProgress), temperature: 1 };
    case 'nb-softmax': {
      const r = nbRatios(X, y, classes, dim, p.alpha);
      return { weights: sgd(X, y, classes, dim, p, r, 'softmax', onProgress), temperature: 1 };
    }
    case 'nbsvm': {
      const r = nbRatios(X, y, classes, dim, p.alpha);
      // The one-vs-rest margins are already logits; a temperature fitted on the training rows would only
      // learn how separable the training set is (overconfident), so keep 1.
      return { weights: sgd(X, y, classes, dim, p, r, 'ovr', onProgress), temperature: 1 };
    }
    case 'cnb':
    case 'mnb': {
      const weights = naiveBayes(X, y, classes, dim, p.alpha, p.method === 'cnb');
      onProgress?.({ epoch: 1, epochs: 1, loss: Number.NaN });
      return { weights, temperature: fitTemperature(weights, X, y) };
    }
  }
}

function sgd(
  X: readonly SparseVec[],
  y: ArrayLike<number>,
  C: number,
  dim: number,
  p: TrainParams,
  r: Float32Array | null,
  loss: 'softmax' | 'ovr',
  onProgress?: (e: TrainProgress) => void,
): LinearWeights {
  const m = newWeights(dim, C);
  const W = m.w;
  const B = m.b;
  const rand = mulberry32(p.seed);
  const n = X.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const total = p.epochs * n;
  const s = new Float64Array(C);
  const g = new Float64Array(C);
  // W_true = scale * W: L2 shrinkage of every weight is one multiplication (Bottou's trick).
  let scale = 1;
  let step = 0;
  for (let ep = 0; ep < p.epochs; ep++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    let lossSum = 0;
    for (let o = 0; o < n; o++) {
      const i = order[o]!;
      const { idx, val } = X[i]!;
      const yi = y[i]!;
      const lr = p.lr * Math.max(1 - step / total, 1e-4);
      step++;
      for (let c = 0; c < C; c++) s[c] = 0;
      for (let k = 0; k < idx.length; k++) {
        const base = idx[k]! * C;
        const v = val[k]!;
        if (r) for (let c = 0; c < C; c++) s[c]! += W[base + c]! * r[base + c]! * v;
        else for (let c = 0; c < C; c++) s[c]! += W[base + c]! * v;
      }
      for (let c = 0; c < C; c++) s[c] = s[c]! * scale + B[c]!;
      if (loss === 'softmax') {
        softmaxInPlace(s, C);
        lossSum -= Math.log(Math.max(s[yi]!, 1e-12));
        for (let c = 0; c < C; c++) g[c] = s[c]! - (c === yi ? 1 : 0);
      } else {
        for (let c = 0; c < C; c++) {
          const pr = 1 / (1 + Math.exp(-s[c]!));
          const t = c === yi ? 1 : 0;
          lossSum -= Math.log(Math.max(t ? pr : 1 - pr, 1e-12));
          g[c] = pr - t;
        }
      }
      if (p.l2 > 0) scale *= 1 - lr * p.l2;
      const f = lr / scale;
      for (let k = 0; k < idx.length; k++) {
        const base = idx[k]! * C;
        const v = val[k]! * f;
        if (r) for (let c = 0; c < C; c++) W[base + c]! -= g[c]! * r[base + c]! * v;
        else for (let c = 0; c < C; c++) W[base + c]! -= g[c]! * v;
      }
      for (let c = 0; c < C; c++) B[c]! -= lr * g[c]!;
      if (scale < 1e-4) {
        for (let j = 0; j < W.length; j++) W[j]! *= scale;
        scale = 1;
      }
    }
    onProgress?.({ epoch: ep + 1, epochs: p.epochs, loss: lossSum / n });
  }
  for (let j = 0; j < W.length; j++) W[j] = W[j]! * scale * (r ? r[j]! : 1);
  return m;
}

/** Log-count ratios r[i*C+c] = log(p_c,i/|p_c|) - log(q_c,i/|q_c|) over binarised features; 0 for unseen buckets. */
function nbRatios(X: readonly SparseVec[], y: ArrayLike<number>, C: number, dim: number, alpha: number): Float32Array {
  const cnt = new Float64Array(dim * C);
  const seen = new Uint8Array(dim);
  const tot = new Float64Array(dim);
  for (let i = 0; i < X.length; i++) {
    const { idx, val } = X[i]!;
    const yi = y[i]!;
    for (let k = 0; k < idx.length; k++) {
      if (val[k]! <= 0) continue;
      const j = idx[k]!;
      cnt[j * C + yi]! += 1;
      tot[j]! += 1;
      seen[j] = 1;
    }
  }
  const pNorm = new Float64Array(C);
  const qNorm = new Float64Array(C);
  for (let j = 0; j < dim; j++) {
    if (!seen[j]) continue;
    for (let c = 0; c < C; c++) {
      const pc = alpha + cnt[j * C + c]!;
      pNorm[c]! += pc;
      qNorm[c]! += alpha + tot[j]! - cnt[j * C + c]!;
    }
  }
  const r = new Float32Array(dim * C);
  for (let j = 0; j < dim; j++) {
    if (!seen[j]) continue;
    for (let c = 0; c < C; c++) {
      const pc = alpha + cnt[j * C + c]!;
      const qc = alpha + tot[j]! - cnt[j * C + c]!;
      r[j * C + c] = Math.log(pc / pNorm[c]!) - Math.log(qc / qNorm[c]!);
    }
  }
  return r;
}

function naiveBayes(
  X: readonly SparseVec[],
  y: ArrayLike<number>,
  C: number,
  dim: number,
  alpha: number,
  complement: boolean,
): LinearWeights {
  const m = newWeights(dim, C);
  const cnt = new Float64Array(dim * C);
  const tot = new Float64Array(dim);
  const seen = new Uint8Array(dim);
  const docs = new Float64Array(C);
  for (let i = 0; i < X.length; i++) {
    const { idx, val } = X[i]!;
    const yi = y[i]!;
    docs[yi]! += 1;
    for (let k = 0; k < idx.length; k++) {
      const j = idx[k]!;
      cnt[j * C + yi]! += val[k]!;
      tot[j]! += val[k]!;
      seen[j] = 1;
    }
  }
  let used = 0;
  for (let j = 0; j < dim; j++) used += seen[j]!;
  const mass = new Float64Array(C);
  for (let j = 0; j < dim; j++) {
    if (!seen[j]) continue;
    for (let c = 0; c < C; c++) mass[c]! += complement ? tot[j]! - cnt[j * C + c]! : cnt[j * C + c]!;
  }
  const absSum = new Float64Array(C);
  for (let j = 0; j < dim; j++) {
    if (!seen[j]) continue;
    for (let c = 0; c < C; c++) {
      const num = alpha + (complement ? tot[j]! - cnt[j * C + c]! : cnt[j * C + c]!);
      const lw = Math.log(num / (alpha * used + mass[c]!));
      m.w[j * C + c] = lw;
      absSum[c]! += Math.abs(lw);
    }
  }
  if (complement) {
    // Weight-normalised CNB: score_c = -sum_i x_i w_ci / |w_c|_1 (the class whose complement fits worst).
    for (let j = 0; j < dim; j++) {
      if (!seen[j]) continue;
      for (let c = 0; c < C; c++) m.w[j * C + c] = -m.w[j * C + c]! / absSum[c]!;
    }
  } else {
    for (let c = 0; c < C; c++) m.b[c] = Math.log((docs[c]! + 1) / (X.length + C));
  }
  return m;
}

/** Temperature that minimises the negative log-likelihood of the softmax over the scores (golden-section on log T). */
function fitTemperature(m: LinearWeights, X: readonly SparseVec[], y: ArrayLike<number>): number {
  const C = m.classes;
  const scores = X.map((x) => {
    const s = new Float64Array(C);
    scoreInto(m, x, s);
    return s;
  });
  const nll = (logT: number): number => {
    const T = Math.exp(logT);
    let sum = 0;
    const tmp = new Float64Array(C);
    for (let i = 0; i < scores.length; i++) {
      tmp.set(scores[i]!);
      softmaxInPlace(tmp, C, T);
      sum -= Math.log(Math.max(tmp[y[i]!]!, 1e-12));
    }
    return sum;
  };
  let a = Math.log(1e-4);
  let b = Math.log(1e4);
  const phi = (Math.sqrt(5) - 1) / 2;
  let c1 = b - phi * (b - a);
  let c2 = a + phi * (b - a);
  let f1 = nll(c1);
  let f2 = nll(c2);
  for (let it = 0; it < 40; it++) {
    if (f1 < f2) {
      b = c2;
      c2 = c1;
      f2 = f1;
      c1 = b - phi * (b - a);
      f1 = nll(c1);
    } else {
      a = c1;
      c1 = c2;
      f1 = f2;
      c2 = a + phi * (b - a);
      f2 = nll(c2);
    }
  }
  return Math.fround(Math.exp((a + b) / 2));
}
