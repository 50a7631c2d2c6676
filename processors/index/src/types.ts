/**
 * The vector index seam: the index stage writes through it, the search API reads through it.
 * Two backends implement it: `EmbeddedIndex` (one machine, files under FEEDLOG_HOME) and
 * `QdrantIndex` (a Qdrant server). Semantics both keep:
 *
 * - one collection per index generation, named `headlines_g<N>`;
 * - a serving alias (e.g. `headlines`) that names one generation and is flipped atomically;
 * - upsert is idempotent by item id (re-delivery of a record replaces the point with itself);
 * - delete by item id is idempotent (deleting an absent item is not an error);
 * - search scores: cosine similarity for 'cosine', inner product for 'dot' (higher is nearer),
 *   euclidean distance for 'euclid' (lower is nearer), as Qdrant reports them.
 */
export type Metric = 'cosine' | 'dot' | 'euclid';

/** What a search hit carries besides its score: enough to render a result without PostgreSQL. */
export interface HeadlinePayload {
  title: string;
  url: string;
  source: string;
  category: string;
  story_id: string;
  /** epoch milliseconds (UTC), or null when the feed did not say */
  published_at: number | null;
}

export interface IndexPoint {
  itemId: string;
  vector: Float32Array | readonly number[];
  payload: HeadlinePayload;
}

/** Every condition given must hold (AND). `since`/`until` bound published_at, both inclusive, epoch ms. */
export interface SearchFilter {
  category?: string;
  source?: string;
  storyId?: string;
  since?: number;
  until?: number;
}

export interface SearchOptions {
  limit?: number;
  offset?: number;
  filter?: SearchFilter;
  /**
   * HNSW candidate list size for this query (recall/latency knob; default: the index's own).
   * Embedded: the graph's ef; Qdrant: `params.hnsw_ef`.
   */
  ef?: number;
}

export interface SearchHit {
  itemId: string;
  score: number;
  payload: HeadlinePayload;
}

/** A collection generation: `headlines_g<N>`. */
export type Generation = number;

export interface VectorIndex {
  readonly backend: 'embedded' | 'qdrant';
  /** the collection name of a generation (`headlines_g<N>`) */
  collectionName(gen: Generation): string;
  /** create the generation's collection when missing; throws when it exists with other dims/metric */
  ensureGeneration(gen: Generation, dims: number, metric: Metric): Promise<void>;
  /** insert or replace by item id; durable when the promise resolves */
  upsert(gen: Generation, points: readonly IndexPoint[]): Promise<void>;
  /** remove items (retracted); absent ids are ignored */
  delete(gen: Generation, itemIds: readonly string[]): Promise<void>;
  /** nearest neighbours in an alias's generation (string) or a generation (number) */
  search(
    target: string | Generation,
    vector: Float32Array | readonly number[],
    opts?: SearchOptions,
  ): Promise<SearchHit[]>;
  /** point `alias` at `gen` in one atomic step (readers see the old or the new generation, never neither) */
  flipAlias(alias: string, gen: Generation): Promise<void>;
  /** the generation an alias points at, or undefined */
  servingGeneration(alias: string): Promise<Generation | undefined>;
  /** delete a generation's collection (refused while an alias serves it) */
  dropGeneration(gen: Generation): Promise<void>;
  /** live points in a generation */
  count(gen: Generation): Promise<number>;
  close(): Promise<void>;
}

export const DEFAULT_ALIAS = 'headlines';

export function collectionName(gen: Generation): string {
  if (!Number.isInteger(gen) || gen < 0) throw new RangeError(`generation must be a non-negative integer, not ${gen}`);
  return `headlines_g${gen}`;
}

export class IndexError extends Error {
  override name = 'IndexError';
}

/** A precondition the caller broke (unknown generation, wrong dimensions): not retriable. */
export class IndexUsageError extends IndexError {
  override name = 'IndexUsageError';
}

export function matchesFilter(p: HeadlinePayload, f: SearchFilter | undefined): boolean {
  if (!f) return true;
  if (f.category !== undefined && p.category !== f.category) return false;
  if (f.source !== undefined && p.source !== f.source) return false;
  if (f.storyId !== undefined && p.story_id !== f.storyId) return false;
  if (f.since !== undefined && (p.published_at === null || p.published_at < f.since)) return false;
  if (f.until !== undefined && (p.published_at === null || p.published_at > f.until)) return false;
  return true;
}

export function hasFilter(f: SearchFilter | undefined): f is SearchFilter {
  return (
    !!f &&
    (f.category !== undefined ||
      f.source !== undefined ||
      f.storyId !== undefined ||
      f.since !== undefined ||
      f.until !== undefined)
  );
}
