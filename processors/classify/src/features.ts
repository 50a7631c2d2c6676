import { combine, FNV_OFFSET, fmix32, fnvStep, hashString } from './hash.ts';

/** How text becomes a sparse vector. Stored in the model artifact: inference must use the same config. */
export interface FeatureConfig {
  /** log2 of the number of hash buckets. */
  bits: number;
  /** Word unigram weight (0 disables). */
  unigrams: number;
  /** Word bigram weight (0 disables). */
  bigrams: number;
  /** Character n-grams inside `<word>` (fastText style), n in [charMin, charMax]; weight 0 disables. */
  chars: number;
  charMin: number;
  charMax: number;
  /** Term weighting before normalisation. */
  tf: 'binary' | 'count' | 'log';
  /** L2-normalise each document vector. */
  l2: boolean;
}

export const DEFAULT_FEATURES: FeatureConfig = {
  bits: 20,
  unigrams: 1,
  bigrams: 1,
  chars: 0,
  charMin: 3,
  charMax: 5,
  tf: 'log',
  l2: true,
};

export interface SparseVec {
  idx: Int32Array;
  val: Float32Array;
}

const SEED_UNI = 0x1b873593;
const SEED_BI = 0x5bd1e995;
const SEED_CHAR = 0x27d4eb2f;
const WORD_RE = /[\p{L}\p{N}]+/gu;

export function validateFeatureConfig(c: FeatureConfig): string | null {
  if (!Number.isInteger(c.bits) || c.bits < 4 || c.bits > 24)
    return `bits must be an integer in [4, 24], got ${c.bits}`;
  for (const k of ['unigrams', 'bigrams', 'chars'] as const) {
    if (typeof c[k] !== 'number' || !Number.isFinite(c[k]) || c[k] < 0) return `${k} must be a number >= 0`;
  }
  if (c.unigrams === 0 && c.bigrams === 0 && c.chars === 0) return 'at least one feature family must be enabled';
  if (!Number.isInteger(c.charMin) || !Number.isInteger(c.charMax) || c.charMin < 1 || c.charMax < c.charMin) {
    return 'charMin/charMax must be integers with 1 <= charMin <= charMax';
  }
  if (!['binary', 'count', 'log'].includes(c.tf)) return `tf must be binary|count|log, got ${String(c.tf)}`;
  if (typeof c.l2 !== 'boolean') return 'l2 must be a boolean';
  return null;
}

/**
 * Hashed n-gram featuriser. Not thread-safe: it reuses one dense accumulator (size 2^bits) so that each
 * document costs O(number of n-grams), with no sorting and no per-n-gram string allocation.
 */
export class Featurizer {
  readonly dim: number;
  private readonly mask: number;
  private readonly acc: Float32Array;
  /** Family weight of the first n-gram that landed in each touched bucket. */
  private readonly wt: Float32Array;
  private touched: Int32Array;
  private nTouched = 0;
  private codes = new Uint16Array(256);

  constructor(readonly config: FeatureConfig) {
    const err = validateFeatureConfig(config);
    if (err) throw new RangeError(`invalid feature config: ${err}`);
    this.dim = 1 << config.bits;
    this.mask = this.dim - 1;
    this.acc = new Float32Array(this.dim);
    this.wt = new Float32Array(this.dim);
    this.touched = new Int32Array(1 << 16);
  }

  private add(h: number, w: number): void {
    const i = h & this.mask;
    if (this.acc[i] === 0) {
      if (this.nTouched === this.touched.length) this.grow();
      this.touched[this.nTouched++] = i;
      this.wt[i] = w;
    }
    this.acc[i]! += 1;
  }

  private grow(): void {
    const t = new Int32Array(this.touched.length * 2);
    t.set(this.touched);
    this.touched = t;
  }

  private addChars(word: string, weight: number): void {
    const { charMin, charMax } = this.config;
    const len = word.length + 2;
    if (this.codes.length < len) this.codes = new Uint16Array(len * 2);
    const codes = this.codes;
    codes[0] = 60; // '<'
    for (let k = 0; k < word.length; k++) codes[k + 1] = word.charCodeAt(k);
    codes[len - 1] = 62; // '>'
    for (let s = 0; s < len; s++) {
      let h = (FNV_OFFSET ^ SEED_CHAR) >>> 0;
      const end = Math.min(len, s + charMax);
      for (let e = s; e < end; e++) {
        h = fnvStep(h, codes[e]!);
        const n = e - s + 1;
        // Skip the n-gram equal to the whole "<word>" (that is the unigram's job).
        if (n >= charMin && !(s === 0 && e === len - 1)) this.add(fmix32(h), weight);
      }
    }
  }

  /** Turns one text into a sparse vector (indices in first-seen order). */
  transform(text: string): SparseVec {
    const c = this.config;
    this.nTouched = 0;
    const lower = text.toLowerCase();
    let prev = -1;
    let havePrev = false;
    for (const m of lower.matchAll(WORD_RE)) {
      const w = m[0];
      const hu = hashString(w, SEED_UNI);
      if (c.unigrams > 0) this.add(hu, c.unigrams);
      if (c.bigrams > 0 && havePrev) this.add(combine(prev, hu, SEED_BI), c.bigrams);
      if (c.chars > 0) this.addChars(w, c.chars);
      prev = hu;
      havePrev = true;
    }
    const n = this.nTouched;
    const idx = new Int32Array(n);
    const val = new Float32Array(n);
    let ss = 0;
    for (let k = 0; k < n; k++) {
      const i = this.touched[k]!;
      const count = this.acc[i]!;
      this.acc[i] = 0;
      const tf = c.tf === 'binary' ? 1 : c.tf === 'log' ? 1 + Math.log(count) : count;
      const v = tf * this.wt[i]!;
      idx[k] = i;
      val[k] = v;
      ss += v * v;
    }
    if (c.l2 && ss > 0) {
      const inv = 1 / Math.sqrt(ss);
      for (let k = 0; k < n; k++) val[k]! *= inv;
    }
    return { idx, val };
  }
}
