/**
 * Seeded synthetic vectors for tests and benchmarks (no embedder needed): points scattered
 * around `clusters` random centres on the unit sphere, then normalised. Clustered data is
 * harder for an HNSW graph than uniform noise in the way real sentence embeddings are (dense
 * neighbourhoods, many near-ties) and makes recall figures meaningful.
 */

/** mulberry32: a small, fast, seedable 32-bit PRNG */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** standard normal deviates (Box–Muller) from a uniform source */
export function gaussian(u: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    let a = 0;
    while (a === 0) a = u();
    const b = u();
    const r = Math.sqrt(-2 * Math.log(a));
    spare = r * Math.sin(2 * Math.PI * b);
    return r * Math.cos(2 * Math.PI * b);
  };
}

export function normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let i = 0; i < v.length; i++) v[i]! *= inv;
  return v;
}

export interface ClusteredOptions {
  n: number;
  dims: number;
  clusters: number;
  /** spread of points around their centre, relative to the centre's unit length */
  spread: number;
  seed: number;
}

export interface ClusteredData {
  /** n * dims floats, each row unit length */
  vectors: Float32Array;
  /** the cluster of each row */
  cluster: Uint32Array;
  centres: Float32Array;
  /** another `count` rows from the same distribution (not in `vectors`) */
  sample(count: number, seed: number): Float32Array;
}

export function clusteredVectors(o: ClusteredOptions): ClusteredData {
  const g = gaussian(rng(o.seed));
  const { dims } = o;
  const centres = new Float32Array(o.clusters * dims);
  for (let c = 0; c < o.clusters; c++) {
    const row = centres.subarray(c * dims, (c + 1) * dims);
    for (let i = 0; i < dims; i++) row[i] = g();
    normalize(row);
  }
  const draw = (out: Float32Array, gen: () => number, pick: () => number): number => {
    const c = pick();
    const centre = centres.subarray(c * dims, (c + 1) * dims);
    const sd = o.spread / Math.sqrt(dims);
    for (let i = 0; i < dims; i++) out[i] = centre[i]! + sd * gen();
    normalize(out);
    return c;
  };
  // cluster sizes are uneven (Zipf-like), as topics in a news stream are
  const weights = Array.from({ length: o.clusters }, (_, c) => 1 / (c + 1) ** 0.7);
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf: number[] = [];
  let acc = 0;
  for (const w of weights) {
    acc += w / total;
    cdf.push(acc);
  }
  const picker = (u: () => number) => () => {
    const x = u();
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const u = rng(o.seed ^ 0x9e3779b9);
  const vectors = new Float32Array(o.n * dims);
  const cluster = new Uint32Array(o.n);
  const pick = picker(u);
  for (let r = 0; r < o.n; r++) cluster[r] = draw(vectors.subarray(r * dims, (r + 1) * dims), g, pick);
  return {
    vectors,
    cluster,
    centres,
    sample(count, seed) {
      const gs = gaussian(rng(seed));
      const ps = picker(rng(seed ^ 0x85ebca6b));
      const out = new Float32Array(count * dims);
      for (let r = 0; r < count; r++) draw(out.subarray(r * dims, (r + 1) * dims), gs, ps);
      return out;
    },
  };
}

/** exact top-k by inner product over rows [0, n) (or the given subset), brute force */
export function exactTopK(
  data: Float32Array,
  dims: number,
  q: Float32Array,
  k: number,
  rows?: ArrayLike<number>,
): { rows: number[]; scores: number[] } {
  const n = rows ? rows.length : data.length / dims;
  const topR = new Int32Array(k).fill(-1);
  const topS = new Float64Array(k).fill(Number.NEGATIVE_INFINITY);
  for (let j = 0; j < n; j++) {
    const r = rows ? rows[j]! : j;
    const off = r * dims;
    let s = 0;
    for (let i = 0; i < dims; i++) s += data[off + i]! * q[i]!;
    if (s <= topS[k - 1]!) continue;
    let p = k - 1;
    while (p > 0 && topS[p - 1]! < s) {
      topS[p] = topS[p - 1]!;
      topR[p] = topR[p - 1]!;
      p--;
    }
    topS[p] = s;
    topR[p] = r;
  }
  const outR: number[] = [];
  const outS: number[] = [];
  for (let i = 0; i < k; i++) {
    if (topR[i]! < 0) break;
    outR.push(topR[i]!);
    outS.push(topS[i]!);
  }
  return { rows: outR, scores: outS };
}
