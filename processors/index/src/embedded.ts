import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@feedlog/common';
import { type AnnEngine, createEngine, defaultEngineParams, type EngineKind, type EngineParams } from './engines.ts';
import {
  collectionName,
  type Generation,
  type HeadlinePayload,
  hasFilter,
  type IndexPoint,
  IndexUsageError,
  type Metric,
  matchesFilter,
  type SearchFilter,
  type SearchHit,
  type SearchOptions,
  type VectorIndex,
} from './types.ts';
import { encodeEntry, readWal, type WalEntry, WalWriter } from './wal.ts';

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
 * One writer per generation (the index stage); readers in other processes (the API) open with
 * `readOnly: true` and follow the writer: every search first replays log entries appended since
 * the last look, and reloads when CURRENT names a new snapshot.
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
}

interface Meta {
  name: string;
  dims: number;
  metric: Metric;
  engine: EngineKind;
  params: EngineParams;
  createdAt: string;
}

interface Current {
  snapshot: string | null;
  wal: string;
  seq: number;
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some filesystems refuse fsync on a directory; rename is still atomic
  }
}

/** write a file atomically: temp + fsync + rename + fsync dir */
function writeAtomic(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncDir(join(file, '..'));
}

function writeDurable(file: string, data: Buffer | Uint8Array | string): void {
  const fd = openSync(file, 'w');
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const seqName = (prefix: string, seq: number, ext = '') => `${prefix}-${String(seq).padStart(6, '0')}${ext}`;

function addTo(m: Map<string, Set<number>>, key: string, label: number): void {
  const s = m.get(key);
  if (s) s.add(label);
  else m.set(key, new Set([label]));
}
function removeFrom(m: Map<string, Set<number>>, key: string, label: number): void {
  const s = m.get(key);
  if (!s) return;
  s.delete(label);
  if (s.size === 0) m.delete(key);
}

function sameVector(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function samePayload(a: HeadlinePayload, b: HeadlinePayload): boolean {
  return (
    a.title === b.title &&
    a.url === b.url &&
    a.source === b.source &&
    a.category === b.category &&
    a.story_id === b.story_id &&
    a.published_at === b.published_at
  );
}

/** One generation's collection, in memory, with its files. */
export class Collection {
  readonly dims: number;
  readonly metric: Metric;
  readonly engineKind: EngineKind;
  private engine!: AnnEngine;
  /** label → item id ('' when deleted) */
  private ids: string[] = [];
  private payloads: (HeadlinePayload | undefined)[] = [];
  private readonly labels = new Map<string, number>();
  private vectors = new Float32Array(0);
  private publishedAt = new Float64Array(0);
  private readonly byCategory = new Map<string, Set<number>>();
  private readonly bySource = new Map<string, Set<number>>();
  private readonly byStory = new Map<string, Set<number>>();
  private current!: Current;
  private wal: WalWriter | undefined;
  private walEnd = 0;
  private currentMtime = 0;

  constructor(
    readonly dir: string,
    readonly meta: Meta,
    private readonly opts: { snapshotBytes: number; exactScanMax: number; readOnly: boolean },
  ) {
    this.dims = meta.dims;
    this.metric = meta.metric;
    this.engineKind = meta.engine;
    this.load();
  }

  get count(): number {
    return this.labels.size;
  }

  private load(): void {
    const curFile = join(this.dir, 'CURRENT');
    this.current = existsSync(curFile)
      ? (JSON.parse(readFileSync(curFile, 'utf8')) as Current)
      : { snapshot: null, wal: seqName('wal', 0, '.log'), seq: 0 };
    this.currentMtime = existsSync(curFile) ? statSync(curFile).mtimeMs : 0;
    this.ids = [];
    this.payloads = [];
    this.labels.clear();
    this.byCategory.clear();
    this.bySource.clear();
    this.byStory.clear();
    this.vectors = new Float32Array(0);
    this.publishedAt = new Float64Array(0);
    const snap = this.current.snapshot ? join(this.dir, this.current.snapshot) : null;
    if (snap) {
      const items = JSON.parse(readFileSync(join(snap, 'items.json'), 'utf8')) as {
        ids: string[];
        payloads: (HeadlinePayload | null)[];
      };
      const raw = readFileSync(join(snap, 'vectors.f32'));
      const n = items.ids.length;
      this.ensureCapacity(n);
      new Uint8Array(this.vectors.buffer).set(raw.subarray(0, n * this.dims * 4));
      const deleted: number[] = [];
      for (let l = 0; l < n; l++) {
        const id = items.ids[l]!;
        this.ids.push(id);
        const p = items.payloads[l] ?? undefined;
        this.payloads.push(p);
        if (id && p) this.indexPayload(l, id, p);
        else deleted.push(l);
      }
      this.engine = createEngine(
        this.engineKind,
        this.dims,
        this.metric,
        this.meta.params,
        join(snap, 'ann.bin'),
        deleted,
      );
    } else {
      this.engine = createEngine(this.engineKind, this.dims, this.metric, this.meta.params);
    }
    const walFile = join(this.dir, this.current.wal);
    const { entries, end } = readWal(walFile, this.dims, 0);
    this.apply(entries);
    this.walEnd = end;
    if (!this.opts.readOnly) this.wal = new WalWriter(walFile, end);
  }

  /** readers: pick up what the writer appended (or a new snapshot) since the last look */
  refresh(): void {
    if (!this.opts.readOnly) return;
    const curFile = join(this.dir, 'CURRENT');
    const m = existsSync(curFile) ? statSync(curFile).mtimeMs : 0;
    if (m !== this.currentMtime) {
      const cur = existsSync(curFile) ? (JSON.parse(readFileSync(curFile, 'utf8')) as Current) : undefined;
      if (cur && cur.seq !== this.current.seq) {
        this.load();
        return;
      }
      this.currentMtime = m;
    }
    const { entries, end } = readWal(join(this.dir, this.current.wal), this.dims, this.walEnd);
    this.apply(entries);
    this.walEnd = end;
  }

  private ensureCapacity(n: number): void {
    const cap = this.publishedAt.length;
    if (n <= cap) return;
    const next = Math.max(n, Math.ceil(cap * 1.5), 1024);
    const v = new Float32Array(next * this.dims);
    v.set(this.vectors);
    this.vectors = v;
    const p = new Float64Array(next).fill(Number.NaN);
    p.set(this.publishedAt);
    this.publishedAt = p;
  }

  private indexPayload(label: number, id: string, p: HeadlinePayload): void {
    this.labels.set(id, label);
    addTo(this.byCategory, p.category, label);
    addTo(this.bySource, p.source, label);
    addTo(this.byStory, p.story_id, label);
    this.publishedAt[label] = p.published_at ?? Number.NaN;
  }

  private unindexPayload(label: number, p: HeadlinePayload): void {
    removeFrom(this.byCategory, p.category, label);
    removeFrom(this.bySource, p.source, label);
    removeFrom(this.byStory, p.story_id, label);
    this.publishedAt[label] = Number.NaN;
  }

  /** the vector as stored: normalised for cosine */
  prepare(v: Float32Array | readonly number[]): Float32Array {
    if (v.length !== this.dims)
      throw new IndexUsageError(`vector has ${v.length} dimensions, the collection ${this.dims}`);
    const out = Float32Array.from(v);
    if (this.metric === 'cosine') {
      let s = 0;
      for (let i = 0; i < out.length; i++) s += out[i]! * out[i]!;
      if (s > 0) {
        const inv = 1 / Math.sqrt(s);
        for (let i = 0; i < out.length; i++) out[i]! *= inv;
      }
    }
    return out;
  }

  private vectorOf(label: number): Float32Array {
    return this.vectors.subarray(label * this.dims, (label + 1) * this.dims);
  }

  /** apply entries in memory and in the graph (after they are durable in the log) */
  private apply(entries: readonly WalEntry[]): void {
    const addLabels: number[] = [];
    const addVectors: Float32Array[] = [];
    const removed: number[] = [];
    const pending = new Map<number, number>(); // label → index in addLabels
    for (const e of entries) {
      const existing = this.labels.get(e.itemId);
      if (e.op === 'delete') {
        if (existing === undefined) continue;
        const p = this.payloads[existing];
        if (p) this.unindexPayload(existing, p);
        this.labels.delete(e.itemId);
        this.ids[existing] = '';
        this.payloads[existing] = undefined;
        const at = pending.get(existing);
        if (at !== undefined) {
          addLabels[at] = -1;
          pending.delete(existing);
        }
        removed.push(existing);
        continue;
      }
      let label = existing;
      let vectorChanged = true;
      if (label === undefined) {
        label = this.ids.length;
        this.ensureCapacity(label + 1);
        this.ids.push(e.itemId);
        this.payloads.push(undefined);
      } else {
        vectorChanged = !sameVector(this.vectorOf(label), e.vector);
        const old = this.payloads[label];
        if (old) this.unindexPayload(label, old);
      }
      this.ids[label] = e.itemId;
      this.payloads[label] = e.payload;
      this.indexPayload(label, e.itemId, e.payload);
      if (vectorChanged) {
        this.vectors.set(e.vector, label * this.dims);
        const at = pending.get(label);
        if (at === undefined) {
          pending.set(label, addLabels.length);
          addLabels.push(label);
          addVectors.push(e.vector);
        } else addVectors[at] = e.vector;
      }
    }
    if (removed.length) this.engine.remove(removed);
    const keep = addLabels.map((l, i) => [l, i] as const).filter(([l]) => l >= 0);
    if (keep.length) {
      const labels = Uint32Array.from(keep, ([l]) => l);
      const flat = new Float32Array(keep.length * this.dims);
      for (let j = 0; j < keep.length; j++) flat.set(addVectors[keep[j]![1]]!, j * this.dims);
      this.engine.add(labels, flat);
    }
  }

  write(entries: WalEntry[]): void {
    if (!this.wal) throw new IndexUsageError(`collection ${this.meta.name} is open read-only`);
    // skip exact re-deliveries: same item, same vector, same payload → nothing to log or apply
    const changed = entries.filter((e) => {
      if (e.op === 'delete') return this.labels.has(e.itemId);
      const l = this.labels.get(e.itemId);
      if (l === undefined) return true;
      const p = this.payloads[l];
      return !(p && samePayload(p, e.payload) && sameVector(this.vectorOf(l), e.vector));
    });
    if (changed.length === 0) return;
    this.wal.append(changed.map(encodeEntry));
    this.walEnd = this.wal.end;
    this.apply(changed);
    if (this.wal.end > this.opts.snapshotBytes) this.snapshot();
  }

  /** write a snapshot and start a new, empty log (see the class comment for the crash argument) */
  snapshot(): void {
    if (!this.wal) return;
    const seq = this.current.seq + 1;
    const snapName = seqName('snap', seq);
    const tmp = join(this.dir, `${snapName}.tmp`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    this.engine.save(join(tmp, 'ann.bin'));
    const n = this.ids.length;
    writeDurable(join(tmp, 'vectors.f32'), new Uint8Array(this.vectors.buffer, 0, n * this.dims * 4));
    writeDurable(
      join(tmp, 'items.json'),
      JSON.stringify({ ids: this.ids, payloads: this.payloads.map((p) => p ?? null) }),
    );
    fsyncDir(tmp);
    renameSync(tmp, join(this.dir, snapName));
    const walName = seqName('wal', seq, '.log');
    writeDurable(join(this.dir, walName), '');
    fsyncDir(this.dir);
    const next: Current = { snapshot: snapName, wal: walName, seq };
    writeAtomic(join(this.dir, 'CURRENT'), JSON.stringify(next));
    this.wal.close();
    this.current = next;
    this.wal = new WalWriter(join(this.dir, walName), 0);
    this.walEnd = 0;
    for (const f of readdirSync(this.dir)) {
      if ((f.startsWith('snap-') && f !== snapName) || (f.startsWith('wal-') && f !== walName)) {
        rmSync(join(this.dir, f), { recursive: true, force: true });
      }
    }
  }

  /** labels matching a filter (from the smallest inverted list, or a scan) */
  private candidates(f: SearchFilter): number[] {
    const lists: Set<number>[] = [];
    if (f.category !== undefined) lists.push(this.byCategory.get(f.category) ?? new Set());
    if (f.source !== undefined) lists.push(this.bySource.get(f.source) ?? new Set());
    if (f.storyId !== undefined) lists.push(this.byStory.get(f.storyId) ?? new Set());
    const lo = f.since ?? Number.NEGATIVE_INFINITY;
    const hi = f.until ?? Number.POSITIVE_INFINITY;
    const ranged = f.since !== undefined || f.until !== undefined;
    const inRange = (l: number) => {
      const t = this.publishedAt[l]!;
      return t >= lo && t <= hi; // NaN (no date) never matches a range
    };
    const out: number[] = [];
    if (lists.length) {
      lists.sort((a, b) => a.size - b.size);
      const [first, ...rest] = lists;
      for (const l of first!) {
        if (rest.every((s) => s.has(l)) && (!ranged || inRange(l))) out.push(l);
      }
    } else {
      for (const l of this.labels.values()) if (inRange(l)) out.push(l);
    }
    return out;
  }

  private score(distanceOrDot: number, fromDot: boolean): number {
    if (this.metric === 'euclid') return fromDot ? distanceOrDot : Math.sqrt(Math.max(0, distanceOrDot));
    return fromDot ? distanceOrDot : 1 - distanceOrDot;
  }

  private exact(q: Float32Array, rows: readonly number[], k: number): { label: number; score: number }[] {
    const d = this.dims;
    const v = this.vectors;
    const euclid = this.metric === 'euclid';
    const scored: { label: number; score: number }[] = [];
    for (const l of rows) {
      const off = l * d;
      let s = 0;
      if (euclid) {
        for (let i = 0; i < d; i++) {
          const x = v[off + i]! - q[i]!;
          s += x * x;
        }
        s = Math.sqrt(s);
      } else {
        for (let i = 0; i < d; i++) s += v[off + i]! * q[i]!;
      }
      scored.push({ label: l, score: s });
    }
    scored.sort((a, b) => (euclid ? a.score - b.score : b.score - a.score));
    return scored.slice(0, k);
  }

  search(vector: Float32Array | readonly number[], opts: SearchOptions = {}): SearchHit[] {
    this.refresh();
    const limit = opts.limit ?? 10;
    const offset = opts.offset ?? 0;
    const k = limit + offset;
    if (k <= 0 || this.count === 0) return [];
    const q = this.prepare(vector);
    let found: { label: number; score: number }[];
    if (!hasFilter(opts.filter)) {
      const r = this.engine.search(q, Math.min(k, this.count), undefined, opts.ef);
      found = r.labels.map((label, i) => ({ label, score: this.score(r.distances[i]!, false) }));
    } else {
      const filter = opts.filter;
      const rows = this.candidates(filter);
      if (rows.length <= Math.max(this.opts.exactScanMax, k)) {
        found = this.exact(q, rows, k);
      } else if (this.engine.filtersInGraph) {
        const mask = new Uint8Array(this.ids.length);
        for (const l of rows) mask[l] = 1;
        const r = this.engine.search(q, k, (l) => mask[l] === 1, opts.ef);
        found = r.labels.map((label, i) => ({ label, score: this.score(r.distances[i]!, false) }));
        if (found.length < k) found = this.exact(q, rows, k);
      } else {
        const selectivity = rows.length / this.count;
        const want = Math.min(this.count, Math.ceil((k / selectivity) * 2) + 10);
        const r = this.engine.search(q, want, undefined, opts.ef);
        found = [];
        for (let i = 0; i < r.labels.length && found.length < k; i++) {
          const p = this.payloads[r.labels[i]!];
          if (p && matchesFilter(p, filter))
            found.push({ label: r.labels[i]!, score: this.score(r.distances[i]!, false) });
        }
        if (found.length < k) found = this.exact(q, rows, k);
      }
    }
    const hits: SearchHit[] = [];
    for (const f of found.slice(offset, k)) {
      const p = this.payloads[f.label];
      const id = this.ids[f.label];
      if (!p || !id) continue; // deleted between graph and payload (cannot happen single-threaded)
      hits.push({ itemId: id, score: f.score, payload: p });
    }
    return hits;
  }

  has(itemId: string): boolean {
    return this.labels.has(itemId);
  }

  /** every live point's vector as stored (normalised for cosine), by item id: comparing generations */
  entries(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [id, label] of this.labels) out.set(id, Float32Array.from(this.vectorOf(label)));
    return out;
  }

  close(): void {
    if (this.wal) {
      if (this.wal.end > 0) this.snapshot();
      this.wal.close();
      this.wal = undefined;
    }
  }
}

export class EmbeddedIndex implements VectorIndex {
  readonly backend = 'embedded' as const;
  readonly root: string;
  private readonly collections = new Map<Generation, Collection>();
  private readonly engine: EngineKind;
  private readonly params: EngineParams;
  private readonly snapshotBytes: number;
  private readonly exactScanMax: number;
  private readonly readOnly: boolean;

  constructor(opts: EmbeddedIndexOptions = {}) {
    this.root = opts.dir ?? join(loadConfig().home, 'index');
    this.engine = opts.engine ?? 'usearch';
    this.params = { ...defaultEngineParams, ...opts.params };
    this.snapshotBytes = opts.snapshotBytes ?? 64 * 1024 * 1024;
    this.exactScanMax = opts.exactScanMax ?? 4096;
    this.readOnly = opts.readOnly ?? false;
    mkdirSync(join(this.root, 'aliases'), { recursive: true });
  }

  collectionName(gen: Generation): string {
    return collectionName(gen);
  }

  private dirOf(gen: Generation): string {
    return join(this.root, collectionName(gen));
  }

  private readMeta(gen: Generation): Meta | undefined {
    const f = join(this.dirOf(gen), 'meta.json');
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Meta) : undefined;
  }

  /** the open collection of a generation (opened from disk on first use) */
  collection(gen: Generation): Collection {
    let c = this.collections.get(gen);
    if (c) return c;
    const meta = this.readMeta(gen);
    if (!meta) throw new IndexUsageError(`generation ${gen} (${collectionName(gen)}) does not exist`);
    c = new Collection(this.dirOf(gen), meta, {
      snapshotBytes: this.snapshotBytes,
      exactScanMax: this.exactScanMax,
      readOnly: this.readOnly,
    });
    this.collections.set(gen, c);
    return c;
  }

  async ensureGeneration(gen: Generation, dims: number, metric: Metric): Promise<void> {
    const existing = this.readMeta(gen);
    if (existing) {
      if (existing.dims !== dims || existing.metric !== metric)
        throw new IndexUsageError(
          `${collectionName(gen)} exists with ${existing.dims} dims/${existing.metric}, asked ${dims}/${metric}`,
        );
      return;
    }
    if (!Number.isInteger(dims) || dims <= 0) throw new IndexUsageError(`dims must be a positive integer`);
    const dir = this.dirOf(gen);
    mkdirSync(dir, { recursive: true });
    const meta: Meta = {
      name: collectionName(gen),
      dims,
      metric,
      engine: this.engine,
      params: this.params,
      createdAt: new Date().toISOString(),
    };
    writeAtomic(join(dir, 'meta.json'), JSON.stringify(meta, null, 2));
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
    return this.collection(gen).search(vector, opts);
  }

  private aliasFile(alias: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(alias)) throw new IndexUsageError(`bad alias name ${JSON.stringify(alias)}`);
    return join(this.root, 'aliases', alias);
  }

  async flipAlias(alias: string, gen: Generation): Promise<void> {
    if (!this.readMeta(gen)) throw new IndexUsageError(`cannot point ${alias} at missing ${collectionName(gen)}`);
    writeAtomic(this.aliasFile(alias), JSON.stringify({ generation: gen, at: new Date().toISOString() }));
  }

  async servingGeneration(alias: string): Promise<Generation | undefined> {
    try {
      return (JSON.parse(readFileSync(this.aliasFile(alias), 'utf8')) as { generation: number }).generation;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async aliases(): Promise<Record<string, Generation>> {
    const out: Record<string, Generation> = {};
    for (const a of readdirSync(join(this.root, 'aliases'))) {
      if (a.includes('.tmp-')) continue;
      const g = await this.servingGeneration(a);
      if (g !== undefined) out[a] = g;
    }
    return out;
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
    rmSync(this.dirOf(gen), { recursive: true, force: true });
  }

  async count(gen: Generation): Promise<number> {
    const c = this.collection(gen);
    c.refresh();
    return c.count;
  }

  async generations(): Promise<Generation[]> {
    return readdirSync(this.root)
      .map((d) => /^headlines_g(\d+)$/.exec(d)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
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
