import { createRequire } from 'node:module';
import type { Metric } from './types.ts';

// Both packages are CommonJS with native addons: load them through require so ESM named-export
// detection does not matter, and so a missing addon fails only the engine that needs it.
const require = createRequire(import.meta.url);

/**
 * The approximate-nearest-neighbour graph under an embedded collection. Labels are dense
 * non-negative integers the collection allocates (one per item id, never reused). Vectors given
 * to an engine are already normalised when the metric is cosine, so every engine works on inner
 * product ('cosine' and 'dot') or squared L2 ('euclid'); `distances` follow the engine's
 * convention: 1 - dot for inner product, squared L2 for euclid. Smaller is nearer.
 */
export interface AnnEngine {
  readonly kind: EngineKind;
  /** add (or replace) points; `vectors` is `labels.length * dims` floats */
  add(labels: Uint32Array, vectors: Float32Array): void;
  remove(labels: readonly number[]): void;
  /**
   * up to k nearest live points. `accept`, when given, is a filter: engines that can filter
   * inside the graph walk (hnswlib) use it; the others (usearch) ignore it and the caller
   * post-filters with over-fetch.
   */
  search(
    q: Float32Array,
    k: number,
    accept?: (label: number) => boolean,
    ef?: number,
  ): { labels: number[]; distances: number[] };
  /** whether `accept` is applied during the walk */
  readonly filtersInGraph: boolean;
  /**
   * several unfiltered queries in one native call spread over `threads` threads (usearch): the
   * graph walks of concurrent searches run on more than the event loop's core. Absent: one by one.
   */
  searchMany?(
    queries: readonly Float32Array[],
    k: number,
    ef: number | undefined,
    threads: number,
  ): { labels: number[]; distances: number[] }[];
  save(file: string): void;
}

export type EngineKind = 'usearch' | 'hnswlib';

export interface EngineParams {
  /** graph degree (HNSW M) */
  connectivity: number;
  /** candidate list while inserting (efConstruction) */
  expansionAdd: number;
  /** candidate list while searching (ef); the effective ef is max(this, k) */
  expansionSearch: number;
  /** threads for batch inserts (usearch); 0 = library default */
  threads: number;
}

export const defaultEngineParams: EngineParams = {
  connectivity: 16,
  expansionAdd: 64,
  // bench/index.ts, 100k clustered 384-d vectors, usearch: recall@10 0.962–0.982 at 256 over two
  // builds (multi-threaded inserts make each graph a little different); 0.939–0.960 at 128
  expansionSearch: 256,
  threads: 2,
};

// --------------------------------------------------------------------------------------------
// usearch (Unum): multi-threaded batch insert, remove by key, no filter callback in the JS API.

interface UsearchMatches {
  keys: BigUint64Array;
  distances: Float32Array;
}
interface UsearchBatchMatches {
  keys: BigUint64Array;
  distances: Float32Array;
  counts: BigUint64Array;
}
interface UsearchIndex {
  add(keys: BigUint64Array, vectors: Float32Array, threads?: number): void;
  /** one query: its matches; several (concatenated): the batch, `k` slots per query */
  search(v: Float32Array, k: number, threads?: number): UsearchMatches | UsearchBatchMatches;
  remove(keys: BigUint64Array): number | number[];
  contains(keys: bigint): boolean;
  save(path: string): void;
  load(path: string): void;
  size(): number;
  capacity(): number;
}
interface UsearchModule {
  Index: new (cfg: {
    dimensions: number;
    metric: string;
    quantization: string;
    connectivity: number;
    expansion_add: number;
    expansion_search: number;
    multi: boolean;
  }) => UsearchIndex;
}

class UsearchEngine implements AnnEngine {
  readonly kind = 'usearch' as const;
  readonly filtersInGraph = false;
  private readonly index: UsearchIndex;

  constructor(
    readonly dims: number,
    readonly metric: Metric,
    readonly params: EngineParams,
    file?: string,
  ) {
    const mod = require('usearch') as UsearchModule;
    this.index = new mod.Index({
      dimensions: dims,
      metric: metric === 'euclid' ? 'l2sq' : 'ip',
      quantization: 'f32',
      connectivity: params.connectivity,
      expansion_add: params.expansionAdd,
      expansion_search: params.expansionSearch,
      multi: false,
    });
    if (file) this.index.load(file);
  }

  add(labels: Uint32Array, vectors: Float32Array): void {
    if (labels.length === 0) return;
    const keys = BigUint64Array.from(labels, (l) => BigInt(l));
    // usearch refuses a key it already holds: replacing a point is remove + add
    const present = keys.filter((k) => this.index.contains(k));
    if (present.length) this.index.remove(present);
    this.index.add(keys, vectors, this.params.threads);
  }

  remove(labels: readonly number[]): void {
    if (labels.length) this.index.remove(BigUint64Array.from(labels, (l) => BigInt(l)));
  }

  search(
    q: Float32Array,
    k: number,
    _accept?: (label: number) => boolean,
    ef?: number,
  ): { labels: number[]; distances: number[] } {
    const n = Math.min(k, this.index.size());
    if (n <= 0) return { labels: [], distances: [] };
    // usearch's effective ef is max(expansion_search, k): a larger ef is a larger k, cut back to n
    const wide = Math.min(Math.max(n, ef ?? 0), this.index.size());
    const m = this.index.search(q, wide, 1);
    return usearchHits(m.keys, m.distances, 0, m.keys.length, n);
  }

  searchMany(
    queries: readonly Float32Array[],
    k: number,
    ef: number | undefined,
    threads: number,
  ): { labels: number[]; distances: number[] }[] {
    if (queries.length === 1) return [this.search(queries[0]!, k, undefined, ef)];
    const n = Math.min(k, this.index.size());
    if (n <= 0) return queries.map(() => ({ labels: [], distances: [] }));
    const wide = Math.min(Math.max(n, ef ?? 0), this.index.size());
    const dims = queries[0]!.length;
    const flat = new Float32Array(queries.length * dims);
    queries.forEach((q, i) => {
      flat.set(q, i * dims);
    });
    const m = this.index.search(flat, wide, threads) as UsearchBatchMatches;
    return queries.map((_, i) => usearchHits(m.keys, m.distances, i * wide, i * wide + Number(m.counts[i]), n));
  }

  save(file: string): void {
    this.index.save(file);
  }
}

/** up to `n` results of one query from usearch's arrays [from, to) */
function usearchHits(
  keys: BigUint64Array,
  dist: Float32Array,
  from: number,
  to: number,
  n: number,
): { labels: number[]; distances: number[] } {
  const labels: number[] = [];
  const distances: number[] = [];
  for (let i = from; i < to; i++) {
    // usearch pads missing results with the max key
    if (keys[i]! === 0xffffffffffffffffn) continue;
    labels.push(Number(keys[i]!));
    distances.push(dist[i]!);
    if (labels.length === n) break;
  }
  return { labels, distances };
}

// --------------------------------------------------------------------------------------------
// hnswlib-node: single-threaded inserts, markDelete, filter callback evaluated inside the walk.

interface HnswIndex {
  initIndex(opts: {
    maxElements: number;
    m?: number;
    efConstruction?: number;
    randomSeed?: number;
    allowReplaceDeleted?: boolean;
  }): void;
  readIndexSync(file: string, allowReplaceDeleted?: boolean): void;
  writeIndexSync(file: string): void;
  resizeIndex(n: number): void;
  addPoint(p: number[] | Float32Array, label: number, replaceDeleted?: boolean): void;
  markDelete(label: number): void;
  unmarkDelete(label: number): void;
  searchKnn(
    q: number[] | Float32Array,
    k: number,
    filter?: (label: number) => boolean,
  ): { neighbors: number[]; distances: number[] };
  getMaxElements(): number;
  getCurrentCount(): number;
  setEf(ef: number): void;
  getIdsList(): number[];
}
interface HnswModule {
  HierarchicalNSW: new (space: 'l2' | 'ip' | 'cosine', dims: number) => HnswIndex;
}

class HnswlibEngine implements AnnEngine {
  readonly kind = 'hnswlib' as const;
  readonly filtersInGraph = true;
  private readonly index: HnswIndex;
  /** labels marked deleted (a re-add unmarks them first) */
  private readonly deleted = new Set<number>();

  constructor(
    readonly dims: number,
    readonly metric: Metric,
    readonly params: EngineParams,
    file?: string,
    deleted?: Iterable<number>,
  ) {
    const mod = require('hnswlib-node') as HnswModule;
    this.index = new mod.HierarchicalNSW(metric === 'euclid' ? 'l2' : 'ip', dims);
    if (file) {
      this.index.readIndexSync(file);
      for (const l of deleted ?? []) this.deleted.add(l);
    } else {
      this.index.initIndex({
        maxElements: 1024,
        m: params.connectivity,
        efConstruction: params.expansionAdd,
        randomSeed: 100,
      });
    }
    this.index.setEf(params.expansionSearch);
  }

  add(labels: Uint32Array, vectors: Float32Array): void {
    const need = this.index.getCurrentCount() + labels.length;
    if (need > this.index.getMaxElements()) {
      this.index.resizeIndex(Math.max(need, this.index.getMaxElements() * 2));
    }
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i]!;
      if (this.deleted.delete(label)) this.index.unmarkDelete(label);
      // an existing label is updated in place (hnswlib repairs its links)
      this.index.addPoint(Array.from(vectors.subarray(i * this.dims, (i + 1) * this.dims)), label);
    }
  }

  remove(labels: readonly number[]): void {
    for (const l of labels) {
      if (this.deleted.has(l)) continue;
      try {
        this.index.markDelete(l);
        this.deleted.add(l);
      } catch {
        // never added: nothing to delete
      }
    }
  }

  search(
    q: Float32Array,
    k: number,
    accept?: (label: number) => boolean,
    ef?: number,
  ): { labels: number[]; distances: number[] } {
    const n = Math.min(k, this.index.getMaxElements());
    if (n <= 0) return { labels: [], distances: [] };
    this.index.setEf(Math.max(ef ?? this.params.expansionSearch, n));
    const r = accept ? this.index.searchKnn(Array.from(q), n, accept) : this.index.searchKnn(Array.from(q), n);
    return { labels: r.neighbors, distances: r.distances };
  }

  save(file: string): void {
    this.index.writeIndexSync(file);
  }
}

/** whether an engine's native addon loads here (hnswlib-node is an optional, compiled dependency) */
export function engineAvailable(kind: EngineKind): boolean {
  try {
    require(kind === 'usearch' ? 'usearch' : 'hnswlib-node');
    return true;
  } catch {
    return false;
  }
}

export function createEngine(
  kind: EngineKind,
  dims: number,
  metric: Metric,
  params: EngineParams = defaultEngineParams,
  file?: string,
  deleted?: Iterable<number>,
): AnnEngine {
  return kind === 'usearch'
    ? new UsearchEngine(dims, metric, params, file)
    : new HnswlibEngine(dims, metric, params, file, deleted);
}
