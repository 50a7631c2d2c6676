/**
 * Limited-memory BFGS (Nocedal & Wright, algorithm 7.4: two-loop recursion, m pairs) with a
 * backtracking Armijo line search, for smooth convex objectives such as the L2-regularised
 * multinomial log-loss of the embedding head. `fg(x, grad)` writes the gradient and returns f.
 */
export interface LbfgsOptions {
  /** iterations at most; default 200 */
  maxIter?: number;
  /** correction pairs kept; default 10 */
  memory?: number;
  /** stop when ‖grad‖∞ falls under this; default 1e-5 */
  gradTol?: number;
  /** stop when the relative decrease of f falls under this; default 1e-9 */
  relTol?: number;
}

export function lbfgs(
  fg: (x: Float64Array, grad: Float64Array) => number,
  x0: Float64Array,
  opts: LbfgsOptions = {},
): { x: Float64Array; f: number; iterations: number } {
  const n = x0.length;
  const m = opts.memory ?? 10;
  const maxIter = opts.maxIter ?? 200;
  const gradTol = opts.gradTol ?? 1e-5;
  const relTol = opts.relTol ?? 1e-9;
  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  let f = fg(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const d = new Float64Array(n);
  const xNew = new Float64Array(n);
  const gNew = new Float64Array(n);
  const alpha = new Float64Array(m);
  let it = 0;
  for (; it < maxIter; it++) {
    let gmax = 0;
    for (let i = 0; i < n; i++) gmax = Math.max(gmax, Math.abs(g[i]!));
    if (gmax < gradTol) break;
    // two-loop recursion: d = -H·g
    for (let i = 0; i < n; i++) d[i] = -g[i]!;
    for (let j = S.length - 1; j >= 0; j--) {
      alpha[j] = rho[j]! * dot(S[j]!, d);
      axpy(-alpha[j]!, Y[j]!, d);
    }
    if (S.length) {
      const last = S.length - 1;
      const gamma = dot(S[last]!, Y[last]!) / dot(Y[last]!, Y[last]!);
      for (let i = 0; i < n; i++) d[i]! *= gamma;
    }
    for (let j = 0; j < S.length; j++) {
      const beta = rho[j]! * dot(Y[j]!, d);
      axpy(alpha[j]! - beta, S[j]!, d);
    }
    let slope = dot(g, d);
    if (slope >= 0) {
      // not a descent direction (numerical trouble): restart from steepest descent
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i]!;
      slope = dot(g, d);
    }
    let step = S.length ? 1 : 1 / Math.max(1, Math.sqrt(-slope));
    let fNew = Number.POSITIVE_INFINITY;
    for (let ls = 0; ls < 40; ls++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i]! + step * d[i]!;
      fNew = fg(xNew, gNew);
      if (fNew <= f + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fNew < f)) break;
    const s = new Float64Array(n);
    const yv = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i]! - x[i]!;
      yv[i] = gNew[i]! - g[i]!;
    }
    const sy = dot(s, yv);
    if (sy > 1e-12) {
      if (S.length === m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(yv);
      rho.push(1 / sy);
    }
    const rel = (f - fNew) / Math.max(1, Math.abs(f));
    x.set(xNew);
    g.set(gNew);
    f = fNew;
    if (rel < relTol) {
      it++;
      break;
    }
  }
  return { x, f, iterations: it };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i]! += a * x[i]!;
}
