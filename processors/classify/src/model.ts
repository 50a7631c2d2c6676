import { type ArtifactHeader, decodeArtifact, readArtifact } from './artifact.ts';
import { Featurizer, SEED_BI, WORD_RE } from './features.ts';
import { combine } from './hash.ts';
import { type LinearWeights, scoreInto, softmaxInPlace } from './linear.ts';
import { AsciiWordTable, HU, S0, SQ } from './word-table.ts';

export interface Prediction {
  category: string;
  /** Softmax probability of `category` (temperature-scaled for the NB-family methods). */
  confidence: number;
}

/** A loaded classifier: featuriser + linear weights + header (name, version, labels, metrics). */
export class ClassifierModel {
  private readonly featurizer: Featurizer;
  private readonly scores: Float64Array;

  constructor(
    readonly header: ArtifactHeader,
    readonly weights: LinearWeights,
  ) {
    this.featurizer = new Featurizer(header.features);
    this.scores = new Float64Array(weights.classes);
    const f = header.features;
    this.cached = f.sqrtLen === true && f.tf === 'count' && !f.l2;
    this.table = new AsciiWordTable(weights.classes, this.cached ? 18 : 1);
  }

  /** Whether predictions use the per-word score cache (see score()). */
  readonly cached: boolean;
  private readonly wordCache = new Map<string, { s: Float64Array; sq: number; hu: number }>();
  /** The word table of ASCII texts (most headlines): see scoreAscii. */
  private readonly table: AsciiWordTable;

  /** Class scores through the featuriser, bypassing the word cache (for checks). */
  uncachedProbabilities(text: string): number[] {
    const s = this.scores;
    scoreInto(this.weights, this.featurizer.transform(text), s);
    softmaxInPlace(s, this.weights.classes, this.header.temperature);
    return Array.from(s);
  }

  get name(): string {
    return this.header.name;
  }
  get version(): string {
    return this.header.version;
  }
  get labels(): readonly string[] {
    return this.header.labels;
  }

  /**
   * Scores into this.scores. With length-normalised counts (features.sqrtLen) the score is a sum of per-word
   * contributions divided by one norm, so each word's unigram + char n-gram score vector is cached: a record then
   * costs one map lookup and one bigram row per word. Equal to the featuriser path up to floating-point order
   * (and the rare in-document hash collision between n-gram families).
   */
  private score(text: string): void {
    const s = this.scores;
    if (!this.cached) {
      scoreInto(this.weights, this.featurizer.transform(text), s);
      return;
    }
    if (this.scoreAscii(text)) return;
    const C = this.weights.classes;
    const W = this.weights.w;
    const mask = this.weights.dim - 1;
    const bw = this.header.features.bigrams;
    for (let c = 0; c < C; c++) s[c] = 0;
    let sq = 0;
    let prev = 0;
    let havePrev = false;
    // match(), not matchAll(): the words as one array of strings, no match object per word
    const words = text.toLowerCase().match(WORD_RE) ?? [];
    for (let k = 0; k < words.length; k++) {
      const e = this.wordScore(words[k] as string);
      for (let c = 0; c < C; c++) s[c]! += e.s[c]!;
      sq += e.sq;
      if (bw > 0 && havePrev) {
        const base = (combine(prev, e.hu, SEED_BI) & mask) * C;
        for (let c = 0; c < C; c++) s[c]! += bw * W[base + c]!;
        sq += bw * bw;
      }
      prev = e.hu;
      havePrev = true;
    }
    const inv = sq > 0 ? 1 / Math.sqrt(sq) : 0;
    for (let c = 0; c < C; c++) s[c] = s[c]! * inv + this.weights.b[c]!;
  }

  /**
   * score() for an ASCII text, scanned once by character code: the same words as WORD_RE over the
   * lower-cased text ([0-9a-z]+ after folding A-Z), the same sums in the same order, each word's
   * entry from the AsciiWordTable (a string is made only on a miss). Returns false, having written
   * nothing that counts, at the first non-ASCII character: score() then takes the general path.
   */
  private scoreAscii(text: string): boolean {
    const t = this.table;
    const C = this.weights.classes;
    const W = this.weights.w;
    const mask = this.weights.dim - 1;
    const bw = this.header.features.bigrams;
    const s = this.scores;
    const f64 = t.f64;
    const i32 = t.i32;
    const st64 = t.stride64;
    const st32 = t.stride32;
    for (let c = 0; c < C; c++) s[c] = 0;
    let sq = 0;
    let prev = 0;
    let havePrev = false;
    const n = text.length;
    let start = -1;
    let h1 = 0;
    let h2 = 0;
    for (let i = 0; i <= n; i++) {
      let code = i < n ? text.charCodeAt(i) : 32;
      if (code >= 128) return false;
      if (code >= 65 && code <= 90) code += 32;
      const word = (code >= 97 && code <= 122) || (code >= 48 && code <= 57);
      if (word) {
        if (start < 0) {
          start = i;
          h1 = 0x811c9dc5;
          h2 = 0x9747b28c;
        }
        h1 = Math.imul(h1 ^ code, 0x01000193);
        h2 = Math.imul(h2 ^ code, 0x5bd1e995) ^ (h2 >>> 13);
        continue;
      }
      if (start < 0) continue;
      const length = i - start;
      let slot = t.find(h1, h2, length);
      if (slot < 0) {
        slot = t.claim(slot, h1, h2, length);
        f64[slot * st64 + SQ] = this.wordInto(text.slice(start, i).toLowerCase(), f64, slot * st64 + S0);
        i32[slot * st32 + HU] = this.lastHu;
      }
      start = -1;
      // one slot record: the sums, sq and the unigram hash share its cache line(s)
      const base0 = slot * st64;
      for (let c = 0; c < C; c++) s[c]! += f64[base0 + S0 + c]!;
      sq += f64[base0 + SQ]!;
      const hu = i32[slot * st32 + HU]! >>> 0;
      if (bw > 0 && havePrev) {
        const base = (combine(prev, hu, SEED_BI) & mask) * C;
        for (let c = 0; c < C; c++) s[c]! += bw * W[base + c]!;
        sq += bw * bw;
      }
      prev = hu;
      havePrev = true;
    }
    const inv = sq > 0 ? 1 / Math.sqrt(sq) : 0;
    for (let c = 0; c < C; c++) s[c] = s[c]! * inv + this.weights.b[c]!;
    return true;
  }

  private wordScore(word: string): { s: Float64Array; sq: number; hu: number } {
    const hit = this.wordCache.get(word);
    if (hit) return hit;
    const s = new Float64Array(this.weights.classes);
    const sq = this.wordInto(word, s, 0);
    const e = { s, sq, hu: this.lastHu };
    if (this.wordCache.size >= 200_000) this.wordCache.clear();
    this.wordCache.set(word, e);
    return e;
  }

  /** The unigram hash of the word last passed to wordInto. */
  private lastHu = 0;

  /** A word's unigram + char n-gram class contributions into out[at..at+C); returns their squared weights. */
  private wordInto(word: string, out: Float64Array, at: number): number {
    const C = this.weights.classes;
    const W = this.weights.w;
    const mask = this.weights.dim - 1;
    const { unigrams: uw, chars: cw } = this.header.features;
    const entry = this.featurizer.wordEntry(word);
    for (let c = 0; c < C; c++) out[at + c] = 0;
    let sq = 0;
    const hu = entry[0]! >>> 0;
    if (uw > 0) {
      const base = (hu & mask) * C;
      for (let c = 0; c < C; c++) out[at + c]! += uw * W[base + c]!;
      sq += uw * uw;
    }
    if (cw > 0) {
      for (let k = 1; k < entry.length; k++) {
        const base = (entry[k]! & mask) * C;
        for (let c = 0; c < C; c++) out[at + c]! += cw * W[base + c]!;
        sq += cw * cw;
      }
    }
    this.lastHu = hu;
    return sq;
  }

  predictOne(text: string): Prediction {
    const s = this.scores;
    this.score(text);
    const arg = softmaxInPlace(s, this.weights.classes, this.header.temperature);
    return { category: this.header.labels[arg]!, confidence: s[arg]! };
  }

  /** `predictOne` into typed arrays (no object per text): label index and confidence at `i`. */
  predictInto(text: string, category: Uint16Array, confidence: Float64Array, i: number): void {
    const s = this.scores;
    this.score(text);
    const arg = softmaxInPlace(s, this.weights.classes, this.header.temperature);
    category[i] = arg;
    confidence[i] = s[arg]!;
  }

  /**
   * `predictOne` of each text into typed arrays (label index and confidence per text, no object
   * per text): the stage's in-thread path and each pool thread score batches with it.
   */
  predictBatch(texts: readonly string[]): {
    category: Uint16Array<ArrayBuffer>;
    confidence: Float64Array<ArrayBuffer>;
  } {
    const category = new Uint16Array(texts.length);
    const confidence = new Float64Array(texts.length);
    for (let i = 0; i < texts.length; i++) this.predictInto(texts[i] as string, category, confidence, i);
    return { category, confidence };
  }

  /** Class probabilities in `labels` order. */
  probabilities(text: string): number[] {
    const s = this.scores;
    this.score(text);
    softmaxInPlace(s, this.weights.classes, this.header.temperature);
    return Array.from(s);
  }

  predict(texts: readonly string[]): Prediction[] {
    return texts.map((t) => this.predictOne(t));
  }
}

export function loadModel(path: string): ClassifierModel {
  const { header, weights } = readArtifact(path);
  return new ClassifierModel(header, weights);
}

export function modelFromBytes(bytes: Buffer): ClassifierModel {
  const { header, weights } = decodeArtifact(bytes);
  return new ClassifierModel(header, weights);
}
