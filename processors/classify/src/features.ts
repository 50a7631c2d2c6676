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
  /**
   * Divide by sqrt(sum of squared family weights over all n-gram occurrences) instead (needs tf 'count', l2 off).
   * The vector is then linear in each word's contribution, so inference can cache a per-word score vector.
   */
  sqrtLen?: boolean;
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

/** Word uni+bigram and char n-gram hashing, shared by the featuriser and the cached scorer. */
export const HASH_SEEDS = { uni: 0x1b873593, bi: 0x5bd1e995, char: 0x27d4eb2f } as const;

export interface SparseVec {
  idx: Int32Array;
  val: Float32Array;
}

const SEED_UNI = HASH_SEEDS.uni;
export const SEED_BI = HASH_SEEDS.bi;
const SEED_CHAR = HASH_SEEDS.char;
export const WORD_RE = /[\p{L}\p{N}]+/gu;
const WORD_CACHE_MAX = 200_000;

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
  if (c.sqrtLen && (c.l2 || c.tf !== 'count')) return "sqrtLen needs tf 'count' and l2 false";
  return null;
}

/**
 * Hashed n-gram featuriser. Not thread-safe: it reuses one dense accumulator (size 2^bits) so that each
 * document costs O(number of n-grams), with no sorting and no per-n-gram string allocation.
 */
export class Featurizer {
  readonly dim: number;
  private readonly mask: number;
  private slotBits = 0;
  private slotKey = new Int32Array(0);
  private slotCount = new Float32Array(0);
  /** Family weight of the first n-gram that landed in each bucket. */
  private slotWeight = new Float32Array(0);
  /** Slots in first-use order. */
  private used = new Int32Array(0);
  private nUsed = 0;
  private codes = new Uint16Array(256);
  /** word → [unigram hash, char n-gram hashes...]; pure function of the word, so caching never changes output. */
  private readonly wordCache = new Map<string, Int32Array>();
  private charBuf = new Int32Array(1024);

  constructor(readonly config: FeatureConfig) {
    const err = validateFeatureConfig(config);
    if (err) throw new RangeError(`invalid feature config: ${err}`);
    this.dim = 1 << config.bits;
    this.mask = this.dim - 1;
    this.allocTable(11);
  }

  /**
   * Per-document accumulator: a small open-addressing table (bucket → count, family weight) that stays in
   * cache, instead of a dense 2^bits array whose random accesses would miss the cache on every n-gram.
   */
  private add(b: number, w: number): void {
    const keys = this.slotKey;
    const cap = keys.length - 1;
    let s = Math.imul(b, 0x9e3779b1) >>> (32 - this.slotBits);
    for (;;) {
      const k = keys[s]!;
      if (k === b) {
        this.slotCount[s]! += 1;
        return;
      }
      if (k === -1) break;
      s = (s + 1) & cap;
    }
    this.insert(s, b, w);
  }

  private insert(s: number, b: number, w: number): void {
    this.slotKey[s] = b;
    this.slotCount[s] = 1;
    this.slotWeight[s] = w;
    this.used[this.nUsed++] = s;
    if (this.nUsed * 2 >= this.slotKey.length) this.growTable();
  }

  private allocTable(bits: number): void {
    this.slotBits = bits;
    const n = 1 << bits;
    this.slotKey = new Int32Array(n).fill(-1);
    this.slotCount = new Float32Array(n);
    this.slotWeight = new Float32Array(n);
    this.used = new Int32Array(n >> 1);
    this.nUsed = 0;
  }

  private growTable(): void {
    const keys = this.slotKey;
    const counts = this.slotCount;
    const weights = this.slotWeight;
    const order = Array.from(this.used.subarray(0, this.nUsed));
    this.allocTable(this.slotBits + 1);
    const cap = this.slotKey.length - 1;
    for (const s of order) {
      const b = keys[s]!;
      let t = Math.imul(b, 0x9e3779b1) >>> (32 - this.slotBits);
      while (this.slotKey[t] !== -1) t = (t + 1) & cap;
      this.slotKey[t] = b;
      this.slotCount[t] = counts[s]!;
      this.slotWeight[t] = weights[s]!;
      this.used[this.nUsed++] = t;
    }
  }

  /** Hashes of the char n-grams of `<word>` (fastText style); the whole `<word>` is skipped (the unigram covers it). */
  private charHashes(word: string): Int32Array {
    const { charMin, charMax } = this.config;
    const len = word.length + 2;
    if (this.codes.length < len) this.codes = new Uint16Array(len * 2);
    const need = len * (charMax - charMin + 1);
    if (this.charBuf.length < need) this.charBuf = new Int32Array(need * 2);
    const codes = this.codes;
    const out = this.charBuf;
    let n = 0;
    codes[0] = 60; // '<'
    for (let k = 0; k < word.length; k++) codes[k + 1] = word.charCodeAt(k);
    codes[len - 1] = 62; // '>'
    for (let s = 0; s < len; s++) {
      let h = (FNV_OFFSET ^ SEED_CHAR) >>> 0;
      const end = Math.min(len, s + charMax);
      for (let e = s; e < end; e++) {
        h = fnvStep(h, codes[e]!);
        if (e - s + 1 >= charMin && !(s === 0 && e === len - 1)) out[n++] = fmix32(h) | 0;
      }
    }
    return out.slice(0, n);
  }

  /** [unigram hash, char n-gram hashes...] of a (lower-case) word; cached. */
  wordEntry(word: string): Int32Array {
    const hit = this.wordCache.get(word);
    if (hit) return hit;
    const chars = this.config.chars > 0 ? this.charHashes(word) : new Int32Array(0);
    const e = new Int32Array(chars.length + 1);
    e[0] = hashString(word, SEED_UNI) | 0;
    e.set(chars, 1);
    if (this.wordCache.size >= WORD_CACHE_MAX) this.wordCache.clear();
    this.wordCache.set(word, e);
    return e;
  }

  /** Turns one text into a sparse vector (indices in first-seen order). */
  transform(text: string): SparseVec {
    const c = this.config;
    this.nUsed = 0;
    const lower = text.toLowerCase();
    let prev = -1;
    let havePrev = false;
    const mask = this.mask;
    const uw = c.unigrams;
    const bw = c.bigrams;
    const cw = c.chars;
    for (const m of lower.matchAll(WORD_RE)) {
      const e = this.wordEntry(m[0]);
      const hu = e[0]! >>> 0;
      if (uw > 0) this.add(hu & mask, uw);
      if (bw > 0 && havePrev) this.add(combine(prev, hu, SEED_BI) & mask, bw);
      if (cw > 0) {
        // Inline probe loop for the char n-grams (the hot path).
        for (let k = 1; k < e.length; k++) {
          const b = e[k]! & mask;
          const keys = this.slotKey;
          const cap = keys.length - 1;
          let s = Math.imul(b, 0x9e3779b1) >>> (32 - this.slotBits);
          let k2 = keys[s]!;
          while (k2 !== b && k2 !== -1) {
            s = (s + 1) & cap;
            k2 = keys[s]!;
          }
          if (k2 === b) this.slotCount[s]! += 1;
          else this.insert(s, b, cw);
        }
      }
      prev = hu;
      havePrev = true;
    }
    let lenSq = 0;
    const n = this.nUsed;
    if (c.sqrtLen) {
      for (let k = 0; k < n; k++) {
        const slot = this.used[k]!;
        lenSq += this.slotCount[slot]! * this.slotWeight[slot]! * this.slotWeight[slot]!;
      }
    }
    const idx = new Int32Array(n);
    const val = new Float32Array(n);
    let ss = 0;
    for (let k = 0; k < n; k++) {
      const slot = this.used[k]!;
      const count = this.slotCount[slot]!;
      const tf = c.tf === 'binary' ? 1 : c.tf === 'log' ? 1 + Math.log(count) : count;
      const v = tf * this.slotWeight[slot]!;
      idx[k] = this.slotKey[slot]!;
      this.slotKey[slot] = -1;
      val[k] = v;
      ss += v * v;
    }
    if (c.sqrtLen && lenSq > 0) {
      const inv = 1 / Math.sqrt(lenSq);
      for (let k = 0; k < n; k++) val[k]! *= inv;
    } else if (c.l2 && ss > 0) {
      const inv = 1 / Math.sqrt(ss);
      for (let k = 0; k < n; k++) val[k]! *= inv;
    }
    return { idx, val };
  }
}
