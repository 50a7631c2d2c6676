import { type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import { type AnnEngine, createEngine, type EngineKind } from '../engines.ts';
import { hasFilter, IndexUsageError, type Metric, type SearchHit, type SearchOptions } from '../types.ts';
import { encodeEntry as encodeFrame, readWal, readWalAsync, type WalEntry, WalWriter } from '../wal.ts';
import type { Meta } from './generations.ts';
import { WriterLock } from './lock.ts';
import { fromGraph, hitsOf, searchPoints } from './search.ts';
import {
  type Current,
  readCurrent,
  readSnapshot,
  readSnapshotSync,
  type SnapshotFiles,
  writeSnapshot,
} from './snapshot.ts';
import { PointStore } from './store.ts';

export interface CollectionOptions {
  snapshotBytes: number;
  exactScanMax: number;
  readOnly: boolean;
  /** the graph's search ef, overriding the generation's `params.expansionSearch` (a reader's choice: it changes no file) */
  searchEf?: number | undefined;
  /** > 1: unfiltered searches arriving together walk the graph in one native call on this many threads (usearch) */
  searchThreads?: number | undefined;
}

/** an unfiltered graph search waiting for the batch it joins */
interface Pending {
  engine: AnnEngine;
  q: Float32Array;
  k: number;
  ef: number | undefined;
  resolve(r: { labels: number[]; distances: number[] }): void;
  reject(e: unknown): void;
}

/** Everything a reload replaces at once (a search never sees half of an old and half of a new state). */
interface State {
  store: PointStore;
  engine: AnnEngine;
  current: Current;
  currentMtime: number;
  walEnd: number;
}

/**
 * One generation's collection: the point store and its graph, loaded from the snapshot CURRENT
 * names plus its write-ahead log. The writer (one per generation, held by `WriterLock`) appends
 * to the log, fsyncs, then applies; readers (`readOnly`, e.g. the API) follow the writer, picking
 * up the log tail or a new snapshot before each search, off the event loop.
 */
export class Collection {
  readonly dims: number;
  readonly metric: Metric;
  readonly engineKind: EngineKind;
  private state: State;
  private wal: WalWriter | undefined;
  private lock: WriterLock | undefined;
  private refreshing: Promise<void> | undefined;
  /**
   * What CURRENT and the log looked like (inode, size, times) when the reader last followed them:
   * while both still look so, nothing was written and a search reads no file at all.
   */
  private seen: FileVersion | undefined;
  /** graph searches gathered for the next batch (searchThreads > 1) */
  private pending: Pending[] = [];

  private constructor(
    readonly dir: string,
    readonly meta: Meta,
    private readonly opts: CollectionOptions,
    files: SnapshotFiles,
    tail: { entries: WalEntry[]; end: number },
  ) {
    this.dims = meta.dims;
    this.metric = meta.metric;
    this.engineKind = meta.engine;
    this.state = this.build(files, tail);
  }

  /** open synchronously (the writer, and the first use by a write); takes the writer lock unless read-only */
  static open(dir: string, meta: Meta, opts: CollectionOptions): Collection {
    const lock = opts.readOnly ? undefined : WriterLock.acquire(dir);
    try {
      const files = readSnapshotSync(dir);
      const c = new Collection(dir, meta, opts, files, readWal(join(dir, files.current.wal), meta.dims, 0));
      c.lock = lock;
      if (!opts.readOnly) c.wal = new WalWriter(join(dir, c.state.current.wal), c.state.walEnd);
      return c;
    } catch (e) {
      lock?.release();
      throw e;
    }
  }

  /** open a reader's collection with fs/promises (the search path) */
  static async openAsync(dir: string, meta: Meta, opts: CollectionOptions): Promise<Collection> {
    if (!opts.readOnly) return Collection.open(dir, meta, opts);
    const files = await readSnapshot(dir);
    return new Collection(dir, meta, opts, files, await readWalAsync(join(dir, files.current.wal), meta.dims, 0));
  }

  private build(files: SnapshotFiles, tail: { entries: WalEntry[]; end: number }): State {
    let store: PointStore;
    let engine: AnnEngine;
    const params = this.opts.searchEf ? { ...this.meta.params, expansionSearch: this.opts.searchEf } : this.meta.params;
    if (files.snapDir && files.items) {
      const loaded = PointStore.fromSnapshot(this.dims, this.metric, files.items, files.vectors ?? Buffer.alloc(0));
      store = loaded.store;
      // the graph file is loaded by the native engine itself
      engine = createEngine(
        this.engineKind,
        this.dims,
        this.metric,
        params,
        join(files.snapDir, 'ann.bin'),
        loaded.deleted,
      );
    } else {
      store = new PointStore(this.dims, this.metric);
      engine = createEngine(this.engineKind, this.dims, this.metric, params);
    }
    const state: State = { store, engine, current: files.current, currentMtime: files.currentMtime, walEnd: 0 };
    applyTo(state, tail.entries);
    state.walEnd = tail.end;
    return state;
  }

  get count(): number {
    return this.state.store.count;
  }

  has(itemId: string): boolean {
    return this.state.store.has(itemId);
  }

  /** every live point's vector as stored (normalised for cosine), by item id: comparing generations */
  entries(): Map<string, Float32Array> {
    return this.state.store.entries();
  }

  /** the vector as stored: normalised for cosine */
  prepare(v: Float32Array | readonly number[]): Float32Array {
    return this.state.store.prepare(v);
  }

  /**
   * readers: pick up what the writer appended (or a new snapshot) since the last look; one refresh
   * at a time. The cheap check first: two stat calls (inode metadata, no data read; a few µs) tell
   * whether CURRENT or the log changed since the last follow, so a search over an index nobody
   * wrote to since does no file I/O, yet still sees every write that finished before it began
   * (an fs.watch notification would arrive later than that, or never on some filesystems).
   */
  refresh(recheck = true): Promise<void> {
    if (!this.opts.readOnly) return Promise.resolve();
    // one in flight may have read before a write this search must see: look once more after it
    // (once: a writer appending all the time must not keep a search waiting)
    if (this.refreshing) return recheck ? this.refreshing.then(() => this.refresh(false)) : this.refreshing;
    const now = this.version();
    if (this.seen && sameVersion(this.seen, now)) return Promise.resolve();
    this.refreshing = this.follow(now).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** CURRENT's and the current log's metadata now */
  private version(): FileVersion {
    const wal = this.state.current.wal;
    return { wal, currentStat: statOf(join(this.dir, 'CURRENT')), walStat: statOf(join(this.dir, wal)) };
  }

  /**
   * Read what changed. `before` was taken before any read, so a write landing during the reads
   * makes the next check differ again (a second look), never a missed one.
   */
  private async follow(before: FileVersion): Promise<void> {
    await this.followFiles();
    // a reload switched to another log: its version is taken on the next check
    this.seen = before.wal === this.state.current.wal ? before : undefined;
  }

  private async followFiles(): Promise<void> {
    const s = this.state;
    const { current, currentMtime } = await readCurrent(this.dir);
    if (currentMtime !== s.currentMtime) {
      if (current && current.seq !== s.current.seq) {
        const files = await readSnapshot(this.dir);
        this.state = this.build(files, await readWalAsync(join(this.dir, files.current.wal), this.dims, 0));
        return;
      }
      s.currentMtime = currentMtime;
    }
    const tail = await readWalAsync(join(this.dir, s.current.wal), this.dims, s.walEnd);
    applyTo(s, tail.entries);
    s.walEnd = tail.end;
  }

  write(entries: WalEntry[]): void {
    if (!this.wal) throw new IndexUsageError(`collection ${this.meta.name} is open read-only`);
    const changed = this.state.store.changes(entries);
    if (changed.length === 0) return;
    this.wal.append(changed.map(encodeFrame));
    this.state.walEnd = this.wal.end;
    applyTo(this.state, changed);
    if (this.wal.end > this.opts.snapshotBytes) this.snapshot();
  }

  /** write a snapshot and start a new, empty log (see snapshot.ts for the crash argument) */
  snapshot(): void {
    if (!this.wal) return;
    const s = this.state;
    const n = s.store.labelSpan;
    const next = writeSnapshot(this.dir, s.current.seq + 1, {
      saveGraph: (file) => s.engine.save(file),
      items: s.store.items(),
      vectorBytes: new Uint8Array(s.store.rawVectors.buffer, 0, n * this.dims * 4),
    });
    this.wal.close();
    s.current = next;
    this.wal = new WalWriter(join(this.dir, next.wal), 0);
    s.walEnd = 0;
  }

  async search(vector: Float32Array | readonly number[], opts: SearchOptions = {}): Promise<SearchHit[]> {
    await this.refresh();
    const { store, engine } = this.state;
    const threads = this.opts.searchThreads ?? 1;
    if (threads > 1 && engine.searchMany && !hasFilter(opts.filter)) {
      const offset = opts.offset ?? 0;
      const k = (opts.limit ?? 10) + offset;
      if (k <= 0 || store.count === 0) return [];
      const q = store.prepare(vector);
      const r = await new Promise<{ labels: number[]; distances: number[] }>((resolve, reject) => {
        if (this.pending.push({ engine, q, k: Math.min(k, store.count), ef: opts.ef, resolve, reject }) === 1)
          setImmediate(() => this.walkBatch(threads));
      });
      // `store` is the state the graph belongs to: a reload meanwhile left both as they were
      return hitsOf(store, fromGraph(store, r), offset, k);
    }
    return searchPoints(store, engine, vector, opts, this.opts.exactScanMax);
  }

  /**
   * The searches that arrived since the last batch (everything the event loop handled in one
   * turn), one native call per engine, k and ef: usearch spreads them over `threads` threads, so
   * the graph walks of concurrent searches use more than the event loop's core.
   */
  private walkBatch(threads: number): void {
    const all = this.pending;
    this.pending = [];
    const groups = new Map<AnnEngine, Map<string, Pending[]>>();
    for (const p of all) {
      let byShape = groups.get(p.engine);
      if (!byShape) {
        byShape = new Map();
        groups.set(p.engine, byShape);
      }
      const key = `${p.k}:${p.ef ?? ''}`;
      const g = byShape.get(key);
      if (g) g.push(p);
      else byShape.set(key, [p]);
    }
    for (const [engine, byShape] of groups)
      for (const batch of byShape.values()) {
        try {
          const first = batch[0]!;
          const rs = engine.searchMany!(
            batch.map((p) => p.q),
            first.k,
            first.ef,
            threads,
          );
          batch.forEach((p, i) => {
            p.resolve(rs[i]!);
          });
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
      }
  }

  close(): void {
    if (this.wal) {
      if (this.wal.end > 0) this.snapshot();
      this.wal.close();
      this.wal = undefined;
    }
    this.lock?.release();
    this.lock = undefined;
  }
}

interface StatKey {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** a reader's view of CURRENT and the log (undefined: the file is absent) */
interface FileVersion {
  /** the log CURRENT named when this was taken */
  wal: string;
  currentStat: StatKey | undefined;
  walStat: StatKey | undefined;
}

function statOf(path: string): StatKey | undefined {
  const st: Stats | undefined = statSync(path, { throwIfNoEntry: false });
  // CURRENT is replaced by rename (a new inode), the log only grows (or is cut back to a frame)
  return st ? { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs } : undefined;
}

const sameStat = (a: StatKey | undefined, b: StatKey | undefined) =>
  a === b ||
  (a !== undefined &&
    b !== undefined &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs);

const sameVersion = (a: FileVersion, b: FileVersion) =>
  a.wal === b.wal && sameStat(a.currentStat, b.currentStat) && sameStat(a.walStat, b.walStat);

/** apply entries to the store, then the resulting change to the graph */
function applyTo(s: State, entries: readonly WalEntry[]): void {
  if (!entries.length) return;
  const change = s.store.apply(entries);
  if (change.removed.length) s.engine.remove(change.removed);
  if (change.labels.length) s.engine.add(change.labels, change.vectors);
}
