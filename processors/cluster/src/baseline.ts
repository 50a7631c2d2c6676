import type { Clusterer } from './evaluate.ts';
import type { HeadlineRecord } from './state.ts';
import { features } from './tokenize.ts';

export interface MinHashOptions {
  /** Minimum estimated Jaccard (over unigram+bigram shingles) with an earlier item to join its story. */
  threshold: number;
  bands: number;
  rows: number;
  windowMs: number;
}

export const DEFAULT_MINHASH: MinHashOptions = Object.freeze({
  threshold: 0.2,
  bands: 32,
  rows: 2,
  windowMs: 24 * 3600_000,
});

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

interface Item {
  story: string;
  ts: number;
  sig: Uint32Array;
}

/**
 * Baseline: near-duplicate single-link clustering with MinHash-LSH. Each headline's shingle set
 * (normalised unigrams + bigrams) gets a MinHash signature; LSH buckets give earlier items that
 * probably share many shingles; the item joins the story of the most similar one whose estimated
 * Jaccard reaches `threshold`, else opens its own story. Items older than the window are ignored
 * and purged. In-memory only (no changelog): it exists to be compared against.
 */
export class MinHashClusterer implements Clusterer {
  readonly options: MinHashOptions;
  private readonly seedsA: Uint32Array;
  private readonly seedsB: Uint32Array;
  private readonly buckets = new Map<string, Item[]>();
  private clock = Number.NEGATIVE_INFINITY;
  private lastPurge = Number.NEGATIVE_INFINITY;

  constructor(options: Partial<MinHashOptions> = {}) {
    this.options = { ...DEFAULT_MINHASH, ...options };
    const k = this.options.bands * this.options.rows;
    this.seedsA = new Uint32Array(k);
    this.seedsB = new Uint32Array(k);
    let x = 0x9e3779b9;
    for (let i = 0; i < k; i++) {
      // xorshift32: fixed seeds, so runs are deterministic
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.seedsA[i] = (x >>> 0) | 1;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.seedsB[i] = x >>> 0;
    }
  }

  private signature(shingles: string[]): Uint32Array {
    const k = this.seedsA.length;
    const sig = new Uint32Array(k).fill(0xffffffff);
    for (const s of shingles) {
      const h = fnv1a(s);
      for (let i = 0; i < k; i++) {
        const v = (Math.imul(h, this.seedsA[i]!) + this.seedsB[i]!) >>> 0;
        if (v < sig[i]!) sig[i] = v;
      }
    }
    return sig;
  }

  assign(rec: HeadlineRecord): { storyId: string; similarity: number } {
    const { bands, rows, windowMs, threshold } = this.options;
    this.clock = Math.max(this.clock, rec.publishedAt);
    const cutoff = this.clock - windowMs;
    if (this.clock - this.lastPurge > windowMs / 4) this.purge(cutoff);

    const shingles = features(rec.title, true);
    const sig = this.signature(shingles.length > 0 ? shingles : [`\u0000${rec.itemId}`]);
    const keys: string[] = [];
    for (let b = 0; b < bands; b++) keys.push(`${b}:${sig.slice(b * rows, (b + 1) * rows).join(',')}`);

    let best: Item | undefined;
    let bestSim = 0;
    const seen = new Set<Item>();
    for (const key of keys) {
      for (const it of this.buckets.get(key) ?? []) {
        if (seen.has(it) || it.ts < cutoff) continue;
        seen.add(it);
        let eq = 0;
        for (let i = 0; i < sig.length; i++) if (sig[i] === it.sig[i]) eq++;
        const sim = eq / sig.length;
        if (sim > bestSim) {
          best = it;
          bestSim = sim;
        }
      }
    }
    const story = best && bestSim >= threshold ? best.story : `s-${rec.itemId}`;
    const item: Item = { story, ts: rec.publishedAt, sig };
    for (const key of keys) {
      const list = this.buckets.get(key);
      if (list) list.push(item);
      else this.buckets.set(key, [item]);
    }
    return { storyId: story, similarity: bestSim };
  }

  private purge(cutoff: number): void {
    this.lastPurge = this.clock;
    for (const [key, list] of this.buckets) {
      const kept = list.filter((it) => it.ts >= cutoff);
      if (kept.length === 0) this.buckets.delete(key);
      else if (kept.length !== list.length) this.buckets.set(key, kept);
    }
  }
}
