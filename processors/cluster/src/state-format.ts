/**
 * The cluster state's public types, options and changelog format (keys, segment and meta values);
 * the algorithm is `state.ts`.
 */
/** One headline as the cluster stage sees it. */
export interface HeadlineRecord {
  itemId: string;
  title: string;
  source?: string;
  /** Event time, epoch ms. Ageing uses this, never the wall clock. */
  publishedAt: number;
  category?: string;
  /**
   * Sentence embedding of the title (used when `semanticWeight` > 0; an item without one is scored
   * on the lexical signal alone and adds nothing to its story's semantic centroid).
   */
  vector?: ArrayLike<number>;
}

export interface Assignment {
  storyId: string;
  /** True when this item opened the story. */
  isNew: boolean;
  /** Score of the best candidate story (0 when there was none); ≥ threshold when joined. */
  similarity: number;
}

/**
 * A changelog record for a compacted topic: `value === null` is a tombstone. Values are JSON.
 * Keys: `m` (meta: clock, story sequence, options fingerprint) and `s/<storyId>/<k>` (segment k
 * of a story: the items that joined it between two `takeChangelog` calls, with their similarity,
 * and the token counts they added; segment 0 also carries the story header). A new segment is
 * merged with the ones below it while they hold no more items than it (a binary counter: with
 * equal batches a story of n items has at most log2(n) + 1 segments and each item is rewritten
 * O(log n) times) unless that makes a segment of more than `SEGMENT_MAX_ITEMS`, and while there
 * would be more than `MAX_SEGMENTS`. All are tombstoned when the story ages out.
 */
export interface ChangelogEntry {
  key: string;
  value: string | null;
}

/** Most changelog keys (segments) a story has. */
export const MAX_SEGMENTS = 16;
/**
 * Segments are not merged beyond this many items (unless a story would exceed MAX_SEGMENTS
 * keys): a message stays far below the broker's 1 MB default (≈ 100 bytes per item).
 */
export const SEGMENT_MAX_ITEMS = 4096;

export type IdfMode = 'item' | 'story' | 'none';

export interface ClusterOptions {
  /** A story ages out when its newest item is older than (newest event time seen − windowMs). */
  windowMs: number;
  /**
   * A story is also closed and evicted once its first item is older than this (event time), so
   * a story that keeps attracting items cannot grow without bound.
   */
  maxStoryAgeMs: number;
  /** Minimum cosine to join a large story (the limit as the story grows). */
  threshold: number;
  /**
   * Minimum cosine to join a one-item story. The bar for a story of n items is
   * threshold + (seedThreshold − threshold) / n: a centroid of many headlines is a robust
   * target, a single headline is not (joining it on one shared word seeds a wrong story).
   */
  seedThreshold: number;
  /** Add adjacent-token bigrams to the unigram features. */
  bigrams: boolean;
  /** Inverse frequency over live items, over live stories, or none. Always streaming. */
  idf: IdfMode;
  /** When both records carry a category, never join across categories. */
  useCategory: boolean;
  /**
   * Weight w of the semantic signal: score = (1 − w)·lexical cosine + w·cosine(item embedding,
   * story's summed embeddings). 0 = lexical only (the records' vectors are ignored).
   */
  semanticWeight: number;
  /**
   * Time decay: the score is multiplied by exp(−Δ / decayHours) with Δ the hours from the story's
   * newest item to this one (0 = no decay). Event time, so replay decides the same.
   */
  decayHours: number;
  /**
   * Weight of entity overlap: score = (1 − we)·score + we·(share of the item's capitalised names —
   * not the title's first word — that the story's items also named). 0 = off.
   */
  entityWeight: number;
}

export const DEFAULT_OPTIONS: ClusterOptions = Object.freeze({
  windowMs: 24 * 3600_000,
  maxStoryAgeMs: 7 * 24 * 3600_000,
  threshold: 0.1,
  seedThreshold: 0.2,
  bigrams: false,
  idf: 'story',
  useCategory: false,
  semanticWeight: 0,
  decayHours: 0,
  entityWeight: 0,
});

/** The JSON of a segment `s/<story>/<k>`. */
export interface SegmentValue {
  /** [itemId, similarity] of the items it adds, in join order (the opener first in segment 0) */
  i: [string, number][];
  /** token → count added by those items */
  t: Record<string, number>;
  /** the story's newest event time once these items joined */
  l: number;
  /** semantic mode: Σ of these items' quantised embeddings, little-endian int32 as base64 */
  e?: string;
  /** entity mode: entity token → number of these items naming it */
  n?: Record<string, number>;
  /** segment 0 only: story sequence number, first event time, category */
  q?: number;
  f?: number;
  c?: string;
}

export interface MetaValue {
  v: 2;
  clock: number;
  seq: number;
  cfg: string;
}

export const META_KEY = 'm';
export const segmentKey = (id: string, k: number) => `s/${id}/${k}`;

/** Story ids are a pure function of the item that opened the story. */
export const storyIdFor = (openerItemId: string): string => `s-${openerItemId}`;

/** The options a changelog is valid for (the semantic ones only when used: older logs stay valid). */
export function optionsKey(o: ClusterOptions): unknown[] {
  const k: unknown[] = [o.windowMs, o.maxStoryAgeMs, o.threshold, o.seedThreshold, o.bigrams, o.idf, o.useCategory];
  if (o.semanticWeight !== 0 || o.decayHours !== 0 || o.entityWeight !== 0) k.push(o.semanticWeight, o.decayHours);
  if (o.entityWeight !== 0) k.push(o.entityWeight);
  return k;
}

export function fingerprint(o: ClusterOptions): string {
  return JSON.stringify(optionsKey(o));
}

/** The option names of the fingerprint's positions (`optionsKey`); absent semantic ones are 0. */
const KEY_NAMES = [
  'windowMs',
  'maxStoryAgeMs',
  'threshold',
  'seedThreshold',
  'bigrams',
  'idf',
  'useCategory',
  'semanticWeight',
  'decayHours',
  'entityWeight',
] as const;

/** Option → value as a fingerprint says (semantic options 0 when it has none), or null if unreadable. */
export function optionsOfFingerprint(cfg: string): Record<string, unknown> | null {
  let k: unknown;
  try {
    k = JSON.parse(cfg);
  } catch {
    return null;
  }
  if (!Array.isArray(k) || k.length < 7 || k.length > KEY_NAMES.length) return null;
  return Object.fromEntries(KEY_NAMES.map((n, i) => [n, k[i] ?? 0]));
}

/**
 * A changelog written with other options than the state restoring it: its scores (and story ids)
 * would not be those it was written with. `differences` names each option that differs.
 */
export class ChangelogOptionsError extends Error {
  readonly retriable = false;
  readonly differences: { option: string; written: unknown; configured: unknown }[];
  /** The changelog was written lexically (semanticWeight 0) and the state is semantic, or vice versa. */
  readonly semanticMismatch: 'written-lexical' | 'written-semantic' | null;
  constructor(
    readonly written: string,
    readonly configured: string,
  ) {
    const w = optionsOfFingerprint(written);
    const c = optionsOfFingerprint(configured);
    const differences =
      w && c ? KEY_NAMES.filter((n) => w[n] !== c[n]).map((n) => ({ option: n, written: w[n], configured: c[n] })) : [];
    const list = differences.length
      ? differences
          .map(
            (d) =>
              `${d.option} ${JSON.stringify(d.written)} in the changelog, ${JSON.stringify(d.configured)} configured`,
          )
          .join('; ')
      : `changelog ${written}, configured ${configured}`;
    super(`the cluster changelog was written with other options: ${list}`);
    this.name = 'ChangelogOptionsError';
    this.differences = differences;
    const ws = Number(w?.semanticWeight ?? 0) > 0;
    const cs = Number(c?.semanticWeight ?? 0) > 0;
    this.semanticMismatch = ws === cs ? null : ws ? 'written-semantic' : 'written-lexical';
  }
}
