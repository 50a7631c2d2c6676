/**
 * The cached scorer's per-word table for ASCII text: an open-addressing table keyed by two
 * independent 32-bit hashes of the lower-cased word plus its length, filled as the text is scanned
 * character by character. A Map<string, …> needs the word as a string (a `toLowerCase` copy of the
 * text, a `match` array, one string per word) and hashes it again on lookup; this table needs a
 * string only on a miss. Two hashes and the length make a wrong hit (two different words on one
 * key) about 2^-64 per lookup pair, far below anything a prediction could show.
 *
 * Each slot's fields sit together in one 64-byte-multiple record of a single buffer (keys, length,
 * unigram hash, then the sums as doubles): a word then costs one or two cache lines instead of one
 * per field array. The table is far larger than the CPU caches and its hits are random, so the lines
 * touched per word are what a prediction pays (issue 14: classify's model time).
 */

const EMPTY = 0;

/** Int32 offsets inside a slot: key 1, key 2, word length (0 = empty), unigram hash. */
export const K1 = 0;
export const K2 = 1;
export const LEN = 2;
export const HU = 3;
/** Float64 offsets inside a slot: sum of squared feature weights, then the C class contributions. */
export const SQ = 2;
export const S0 = 3;

export class AsciiWordTable {
  readonly slots: number;
  private readonly mask: number;
  /** slot stride in Int32 units (slot i's Int32 fields start at i * stride32) */
  readonly stride32: number;
  /** slot stride in Float64 units (slot i's Float64 fields start at i * stride64) */
  readonly stride64: number;
  /** the slots as Int32 (K1, K2, LEN, HU) */
  readonly i32: Int32Array;
  /** the same bytes as Float64 (SQ, S0 … S0 + classes − 1) */
  readonly f64: Float64Array;
  private used = 0;

  constructor(
    readonly classes: number,
    bits = 18,
  ) {
    this.slots = 1 << bits;
    this.mask = this.slots - 1;
    // 16 bytes of Int32 fields, 8 for sq, 8 per class; rounded up to whole cache lines
    const bytes = Math.ceil((8 * S0 + 8 * classes) / 64) * 64;
    this.stride32 = bytes / 4;
    this.stride64 = bytes / 8;
    const buf = new ArrayBuffer(this.slots * bytes);
    this.i32 = new Int32Array(buf);
    this.f64 = new Float64Array(buf);
  }

  /** The slot holding this key, or -1 - (the free slot to fill) when it is absent. */
  find(h1: number, h2: number, length: number): number {
    const a = this.i32;
    const st = this.stride32;
    let i = (Math.imul(h1 ^ (h2 >>> 7), 0x9e3779b1) >>> 0) & this.mask;
    for (;;) {
      const o = i * st;
      const l = a[o + LEN]!;
      if (l === EMPTY) return -1 - i;
      if (l === length && a[o + K1] === h1 && a[o + K2] === h2) return i;
      i = (i + 1) & this.mask;
    }
  }

  /**
   * Claims the free slot `find` answered (its negative result, as returned) for the key; when the
   * table is half full it is emptied first (like the Map it replaces: hot words come back within a
   * few records) and the slot is found again. Returns the slot to fill.
   */
  claim(absent: number, h1: number, h2: number, length: number): number {
    let i = -1 - absent;
    if (this.used >= this.slots >>> 1) {
      this.i32.fill(EMPTY);
      this.used = 0;
      i = -1 - this.find(h1, h2, length);
    }
    const o = i * this.stride32;
    this.i32[o + K1] = h1;
    this.i32[o + K2] = h2;
    this.i32[o + LEN] = length;
    this.used++;
    return i;
  }
}
