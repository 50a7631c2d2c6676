import { createRequire } from 'node:module';

// usearch is CommonJS with a native addon (the index package's engine): loaded through require
const require = createRequire(import.meta.url);
type Matches = { keys: BigUint64Array; distances: Float32Array; counts?: BigUint64Array };
const usearch = require('usearch') as {
  exactSearch(data: Float32Array, queries: Float32Array, dims: number, k: number, metric: 'ip'): Matches;
};

/**
 * k nearest labelled training vectors by cosine (unit vectors, inner product through usearch's
 * exact search: no graph to build or to store), each neighbour voting exp((cos − cos₁) / τ) for
 * its class, cos₁ the nearest one's; a floor of `smooth` per class keeps every log-probability finite.
 */
export interface KnnOptions {
  /** neighbours; default 30 */
  k?: number;
  /** vote temperature τ; default 0.05 */
  tau?: number;
  /** vote every class gets before normalising; default 1e-3 */
  smooth?: number;
}

export const DEFAULT_KNN = { k: 30, tau: 0.05, smooth: 1e-3 } as const;

export class KnnVoter {
  readonly k: number;
  readonly tau: number;
  readonly smooth: number;
  readonly size: number;

  /** `vectors`: size × dims, unit length; `labels`: class per row */
  constructor(
    readonly vectors: Float32Array,
    readonly labels: Uint8Array,
    readonly dims: number,
    readonly classes: number,
    opts: KnnOptions = {},
  ) {
    this.k = opts.k ?? DEFAULT_KNN.k;
    this.tau = opts.tau ?? DEFAULT_KNN.tau;
    this.smooth = opts.smooth ?? DEFAULT_KNN.smooth;
    this.size = labels.length;
    if (vectors.length !== this.size * dims) throw new RangeError('KnnVoter: vectors.length must be labels × dims');
  }

  static fromRows(rows: readonly Float32Array[], y: readonly number[], classes: number, opts?: KnnOptions): KnnVoter {
    const dims = rows[0]?.length ?? 0;
    const flat = new Float32Array(rows.length * dims);
    rows.forEach((v, i) => {
      flat.set(v, i * dims);
    });
    return new KnnVoter(flat, Uint8Array.from(y), dims, classes, opts);
  }

  /** class probabilities of each query (unit vectors) */
  probabilities(queries: readonly Float32Array[]): Float64Array[] {
    if (queries.length === 0) return [];
    const C = this.classes;
    const k = Math.min(this.k, this.size);
    if (k === 0) return queries.map(() => new Float64Array(C).fill(1 / C));
    const flat = new Float32Array(queries.length * this.dims);
    queries.forEach((q, i) => {
      flat.set(q, i * this.dims);
    });
    const m = usearch.exactSearch(this.vectors, flat, this.dims, k, 'ip');
    return queries.map((_, qi) => {
      const p = new Float64Array(C).fill(this.smooth);
      const count = m.counts ? Number(m.counts[qi]) : m.keys.length;
      const base = qi * k;
      const best = 1 - m.distances[base]!;
      for (let j = 0; j < count; j++) {
        const cos = 1 - m.distances[base + j]!;
        p[this.labels[Number(m.keys[base + j])]!]! += Math.exp((cos - best) / this.tau);
      }
      let z = 0;
      for (let c = 0; c < C; c++) z += p[c]!;
      for (let c = 0; c < C; c++) p[c]! /= z;
      return p;
    });
  }
}
