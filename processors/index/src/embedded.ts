import { join } from 'node:path';
import { loadConfig } from '@feedlog/common';
import { Collection } from './embedded/collection.ts';
import { Generations } from './embedded/generations.ts';
import { defaultEngineParams, type EngineKind, type EngineParams } from './engines.ts';
import {
  collectionName,
  type Generation,
  type IndexPoint,
  IndexUsageError,
  type Metric,
  type SearchHit,
  type SearchOptions,
  type VectorIndex,
} from './types.ts';
import type { WalEntry } from './wal.ts';

export { Collection } from './embedded/collection.ts';
export { IndexLockedError } from './embedded/lock.ts';

/**
 * The embedded vector index: one directory per generation under `<FEEDLOG_HOME>/index/`, an HNSW
 * graph in memory (usearch by default, hnswlib-node selectable; chosen by bench/index.ts), the
 * vectors and payloads beside it.
 *
 * Persistence (crash safety) — write-ahead log + periodic snapshot:
 *   - `upsert`/`delete` append their entries to `wal-<n>.log` and fsync before applying them and
 *     before resolving, so whatever the index stage acknowledged (committed offsets for) survives
 *     a crash;
 *   - when the log passes `snapshotBytes` (and on `close`), a snapshot `snap-<n+1>/` (graph file,
 *     vectors, ids + payloads) is written beside the old one, then `CURRENT` is replaced atomically
 *     (write temp + fsync + rename) to name it and the fresh empty `wal-<n+1>.log`; older files go.
 *     A crash at any point leaves CURRENT naming a complete snapshot and its log.
 *   - opening loads the snapshot CURRENT names and replays its log (a torn tail is cut off).
 *   - the whole generation is also rebuildable from the `embedded` topic (`rebuildFromTopic`).
 *
 * Aliases: `<root>/aliases/<alias>` holds `{"generation":N}`; flipping writes a temp file, fsyncs
 * and renames it over the old one (atomic on POSIX), then fsyncs the directory.
 *
 * One writer per generation (the index stage), enforced by a lock file holding its pid
 * (`embedded/lock.ts`: refused while that process lives, taken over when it died); readers in
 * other processes (the API) open with `readOnly: true` and follow the writer: every search first
 * replays log entries appended since the last look (fs/promises, off the event loop), and reloads
 * when CURRENT names a new snapshot.
 *
 * Modules: `embedded/store.ts` (points in memory), `wal.ts` (the log), `embedded/snapshot.ts`,
 * `embedded/payload-filter.ts`, `embedded/search.ts`, `embedded/generations.ts` (generation
 * directories and aliases), `embedded/lock.ts`, `embedded/collection.ts` (one generation); this
 * file is the `VectorIndex` facade over them.
 *
 * Filters: with an equality filter the candidate set comes from an inverted index (category,
 * source, story id); a range-only filter scans published_at. When the matching subset is small
 * (≤ `exactScanMax` points) it is searched exactly (brute force over its vectors: correct however
 * selective the filter is); otherwise the graph is searched with the filter (hnswlib applies it
 * during the walk; usearch over-fetches by 1/selectivity and post-filters, then falls back to the
 * exact scan when too few survive).
 */
export interface EmbeddedIndexOptions {
  /** root directory (default `<FEEDLOG_HOME>/index`) */
  dir?: string;
  engine?: EngineKind;
  params?: Partial<EngineParams>;
  /** snapshot when the write-ahead log grows past this many bytes (default 64 MiB ≈ 40k 384-d upserts: bounds the replay (graph inserts) after a crash) */
  snapshotBytes?: number;
  /** filtered subsets up to this size are searched exactly (default 4096) */
  exactScanMax?: number;
  readOnly?: boolean;
  /**
   * the graph's ef for searches (candidate list), overriding what each generation was created
   * with (`params.expansionSearch`, stored in its meta.json); a search's own `ef` still widens it
   */
  searchEf?: number;
  /**
   * > 1: unfiltered searches that arrive together (concurrent requests) walk the graph in one
   * native call spread over this many threads (usearch; default 1: each on the calling thread)
   */
  searchThreads?: number;
}

export class EmbeddedIndex implements VectorIndex {
  readonly backend = 'embedded' as const;
  readonly root: string;
  private readonly collections = new Map<Generation, Collection>();
  /** readers opening a generation off the event loop: one open per generation however many searches wait */
  private readonly opening = new Map<Generation, Promise<Collection>>();
  private readonly layout: Generations;
  private readonly engine: EngineKind;
  private readonly params: EngineParams;
  private readonly snapshotBytes: number;
  private readonly exactScanMax: number;
  private readonly readOnly: boolean;
  private readonly searchEf: number | undefined;
  private readonly searchThreads: number;

  constructor(opts: EmbeddedIndexOptions = {}) {
    this.root = opts.dir ?? join(loadConfig().home, 'index');
    this.engine = opts.engine ?? 'usearch';
    this.params = { ...defaultEngineParams, ...opts.params };
    this.snapshotBytes = opts.snapshotBytes ?? 64 * 1024 * 1024;
    this.exactScanMax = opts.exactScanMax ?? 4096;
    this.readOnly = opts.readOnly ?? false;
    if (opts.searchEf !== undefined && (!Number.isInteger(opts.searchEf) || opts.searchEf < 1))
      throw new IndexUsageError(`searchEf must be a positive integer, got ${opts.searchEf}`);
    this.searchEf = opts.searchEf;
    if (opts.searchThreads !== undefined && (!Number.isInteger(opts.searchThreads) || opts.searchThreads < 1))
      throw new IndexUsageError(`searchThreads must be a positive integer, got ${opts.searchThreads}`);
    this.searchThreads = opts.searchThreads ?? 1;
    this.layout = new Generations(this.root);
  }

  collectionName(gen: Generation): string {
    return collectionName(gen);
  }

  private get collectionOptions() {
    return {
      snapshotBytes: this.snapshotBytes,
      exactScanMax: this.exactScanMax,
      readOnly: this.readOnly,
      searchEf: this.searchEf,
      searchThreads: this.searchThreads,
    };
  }

  private metaOf(gen: Generation) {
    const meta = this.layout.readMeta(gen);
    if (!meta) throw new IndexUsageError(`generation ${gen} (${collectionName(gen)}) does not exist`);
    return meta;
  }

  /** the open collection of a generation (opened from disk on first use; a writer takes the generation's lock) */
  collection(gen: Generation): Collection {
    let c = this.collections.get(gen);
    if (c) return c;
    c = Collection.open(this.layout.dirOf(gen), this.metaOf(gen), this.collectionOptions);
    this.collections.set(gen, c);
    return c;
  }

  /** `collection` for the search path: a reader loads its files with fs/promises */
  private async opened(gen: Generation): Promise<Collection> {
    const c = this.collections.get(gen);
    if (c) return c;
    if (!this.readOnly) return this.collection(gen);
    let p = this.opening.get(gen);
    if (!p) {
      p = this.layout
        .readMetaAsync(gen)
        .then((meta) => {
          if (!meta) throw new IndexUsageError(`generation ${gen} (${collectionName(gen)}) does not exist`);
          return Collection.openAsync(this.layout.dirOf(gen), meta, this.collectionOptions);
        })
        .then((opened) => {
          this.collections.set(gen, opened);
          return opened;
        })
        .finally(() => this.opening.delete(gen));
      this.opening.set(gen, p);
    }
    return p;
  }

  async ensureGeneration(gen: Generation, dims: number, metric: Metric): Promise<void> {
    this.layout.ensure(gen, dims, metric, this.engine, this.params);
  }

  async upsert(gen: Generation, points: readonly IndexPoint[]): Promise<void> {
    const c = this.collection(gen);
    // last write wins within a batch, as it would across batches
    const entries: WalEntry[] = points.map((p) => ({
      op: 'upsert',
      itemId: p.itemId,
      payload: p.payload,
      vector: c.prepare(p.vector),
    }));
    c.write(entries);
  }

  async delete(gen: Generation, itemIds: readonly string[]): Promise<void> {
    this.collection(gen).write(itemIds.map((itemId) => ({ op: 'delete', itemId })));
  }

  async search(
    target: string | Generation,
    vector: Float32Array | readonly number[],
    opts?: SearchOptions,
  ): Promise<SearchHit[]> {
    const gen = typeof target === 'number' ? target : await this.servingGeneration(target);
    if (gen === undefined) throw new IndexUsageError(`alias ${target} does not name a generation`);
    return (await this.opened(gen)).search(vector, opts);
  }

  async flipAlias(alias: string, gen: Generation): Promise<void> {
    await this.layout.flip(alias, gen);
  }

  async servingGeneration(alias: string): Promise<Generation | undefined> {
    return this.layout.serving(alias);
  }

  async aliases(): Promise<Record<string, Generation>> {
    return this.layout.aliases();
  }

  async dropGeneration(gen: Generation): Promise<void> {
    const serving = Object.entries(await this.aliases()).filter(([, g]) => g === gen);
    if (serving.length)
      throw new IndexUsageError(`${collectionName(gen)} is served by alias ${serving.map(([a]) => a).join(', ')}`);
    const c = this.collections.get(gen);
    if (c) {
      this.collections.delete(gen);
      c.close();
    }
    this.layout.remove(gen);
  }

  async count(gen: Generation): Promise<number> {
    const c = await this.opened(gen);
    await c.refresh();
    return c.count;
  }

  async generations(): Promise<Generation[]> {
    return this.layout.list();
  }

  /** snapshot every open writable collection now */
  snapshot(): void {
    for (const c of this.collections.values()) c.snapshot();
  }

  async close(): Promise<void> {
    for (const c of this.collections.values()) c.close();
    this.collections.clear();
  }
}
