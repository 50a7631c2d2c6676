import { evaluate } from './metrics.ts';

/**
 * Log-linear fusion of class distributions: p ∝ exp(Σ_m w_m · log p_m / (T_m · T)). Each member is
 * first put on a common scale by its own temperature T_m (temperature scaling: log p_m / T_m is the
 * log of the member's softmax at T_m, up to a per-row constant); the weights then decide the argmax,
 * and the overall temperature T only the confidence (calibration).
 */
export interface FusionParams {
  /** one weight per member, in the members' order (n-gram, head, kNN) */
  weights: number[];
  /** one temperature per member (default 1 each) */
  memberTemperatures?: number[];
  temperature: number;
}

const EPS = 1e-12;

export function fuse(members: readonly Float64Array[], p: FusionParams): Float64Array {
  const C = members[0]!.length;
  const out = new Float64Array(C);
  let mx = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let m = 0; m < members.length; m++)
      s += (p.weights[m]! * Math.log(members[m]![c]! + EPS)) / (p.memberTemperatures?.[m] ?? 1);
    out[c] = s / p.temperature;
    if (out[c]! > mx) mx = out[c]!;
  }
  let z = 0;
  for (let c = 0; c < C; c++) {
    out[c] = Math.exp(out[c]! - mx);
    z += out[c]!;
  }
  for (let c = 0; c < C; c++) out[c]! /= z;
  return out;
}

/** weight vectors on the simplex in steps of 1/steps (every member ≥ 0, sum 1) */
export function simplexGrid(members: number, steps = 10): number[][] {
  const out: number[][] = [];
  const rec = (prefix: number[], left: number) => {
    if (prefix.length === members - 1) {
      out.push([...prefix, left].map((v) => v / steps));
      return;
    }
    for (let v = 0; v <= left; v++) rec([...prefix, v], left - v);
  };
  rec([], steps);
  return out;
}

export const TEMPERATURES = [0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 1.75, 2, 2.5, 3];
/** per-member temperatures: a wide geometric grid (complement NB's scores can be 100× too flat) */
export const MEMBER_TEMPERATURES = Array.from({ length: 41 }, (_, i) => 10 ** (-2.5 + i * 0.1));

/** the temperature with the least mean log-loss of one member's out-of-fold distributions */
export function memberTemperature(
  p: readonly Float64Array[],
  y: readonly number[],
  grid = MEMBER_TEMPERATURES,
): number {
  let best = 1;
  let bestLoss = Number.POSITIVE_INFINITY;
  for (const t of grid) {
    let loss = 0;
    for (let i = 0; i < y.length; i++) loss -= Math.log(fuse([p[i]!], { weights: [1], temperature: t })[y[i]!]! + EPS);
    if (loss < bestLoss - 1e-12) {
      bestLoss = loss;
      best = t;
    }
  }
  return best;
}

export interface FusionChoice extends FusionParams {
  /** out-of-fold macro-F1 and accuracy of the chosen weights */
  macroF1: number;
  accuracy: number;
  /** out-of-fold mean log-loss at the chosen temperature */
  logLoss: number;
}

/**
 * Chooses the fusion on out-of-fold predictions (rows never seen by the members that scored them):
 * each member's temperature by its log-loss, the weights with the best macro-F1 (accuracy, then the earlier grid point, breaks ties), then the
 * temperature with the least log-loss for those weights.
 * `oof[m][i]`: member m's distribution for row i; `y[i]` its class.
 */
export function chooseFusion(
  oof: readonly (readonly Float64Array[])[],
  y: readonly number[],
  labels: readonly string[],
  grid = simplexGrid(oof.length),
): FusionChoice {
  const n = y.length;
  const memberTemperatures = oof.map((m) => memberTemperature(m, y));
  let best: { weights: number[]; macroF1: number; accuracy: number } | undefined;
  const pred = new Array<number>(n);
  for (const weights of grid) {
    for (let i = 0; i < n; i++) {
      const p = fuse(
        oof.map((m) => m[i]!),
        { weights, memberTemperatures, temperature: 1 },
      );
      pred[i] = argmax(p);
    }
    const ev = evaluate(y, pred, labels);
    if (
      !best ||
      ev.macroF1 > best.macroF1 + 1e-12 ||
      (Math.abs(ev.macroF1 - best.macroF1) <= 1e-12 && ev.accuracy > best.accuracy + 1e-12)
    )
      best = { weights, macroF1: ev.macroF1, accuracy: ev.accuracy };
  }
  const chosen = best!;
  let bestT = 1;
  let bestLoss = Number.POSITIVE_INFINITY;
  for (const temperature of TEMPERATURES) {
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const p = fuse(
        oof.map((m) => m[i]!),
        { weights: chosen.weights, memberTemperatures, temperature },
      );
      loss -= Math.log(p[y[i]!]! + EPS);
    }
    loss /= n;
    if (loss < bestLoss - 1e-12) {
      bestLoss = loss;
      bestT = temperature;
    }
  }
  return {
    weights: chosen.weights,
    memberTemperatures,
    temperature: bestT,
    macroF1: chosen.macroF1,
    accuracy: chosen.accuracy,
    logLoss: bestLoss,
  };
}

export function argmax(p: ArrayLike<number>): number {
  let a = 0;
  for (let c = 1; c < p.length; c++) if (p[c]! > p[a]!) a = c;
  return a;
}
