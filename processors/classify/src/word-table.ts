/**
 * The cached scorer's per-word table for ASCII text: an open-addressing table of typed arrays keyed
 * by two independent 32-bit hashes of the lower-cased word plus its length, filled as the text is
 * scanned character by character. A Map<string, …> needs the word as a string (a `toLowerCase`
 * copy of the text, a `match` array, one string per word) and hashes it again on lookup; this table
 * needs a string only on a miss. Two hashes and the length make a wrong hit (two different words
 * on one key) about 2^-64 per lookup pair, far below anything a prediction could show.
 */

const EMPTY = 0;

export class AsciiWordTable {
  readonly slots: number;
  private readonly mask: number;
  private readonly k1: Int32Array;
  private readonly k2: Int32Array;
  /** word length, 0 = empty slot */
  private readonly len: Int32Array;
  /** per slot: C class contributions */
  readonly s: Float64Array;
  /** per slot: sum of squared feature weights */
  readonly sq: Float64Array;
  /** per slot: the word's unigram hash (for the bigram with the next word) */
  readonly hu: Int32Array;
  private used = 0;

  constructor(
    readonly classes: number,
    bits = 18,
  ) {
    this.slots = 1 << bits;
    this.mask = this.slots - 1;
    this.k1 = new Int32Array(this.slots);
    this.k2 = new Int32Array(this.slots);
    this.len = new Int32Array(this.slots);
    this.s = new Float64Array(this.slots * classes);
    this.sq = new Float64Array(this.slots);
    this.hu = new Int32Array(this.slots);
  }

  /** The slot holding this key, or -1 - (the free slot to fill) when it is absent. */
  find(h1: number, h2: number, length: number): number {
    const len = this.len;
    let i = (Math.imul(h1 ^ (h2 >>> 7), 0x9e3779b1) >>> 0) & this.mask;
    for (;;) {
      const l = len[i]!;
      if (l === EMPTY) return -1 - i;
      if (l === length && this.k1[i] === h1 && this.k2[i] === h2) return i;
      i = (i + 1) & this.mask;
    }
  }

  /**
   * Claims the free slot `find` answered (its negative result, as returned) for the key; when the table is half full it is emptied
   * first (like the Map it replaces: hot words come back within a few records) and the slot is
   * found again. Returns the slot to fill.
   */
  claim(absent: number, h1: number, h2: number, length: number): number {
    let i = -1 - absent;
    if (this.used >= this.slots >>> 1) {
      this.len.fill(EMPTY);
      this.used = 0;
      i = -1 - this.find(h1, h2, length);
    }
    this.k1[i] = h1;
    this.k2[i] = h2;
    this.len[i] = length;
    this.used++;
    return i;
  }
}
