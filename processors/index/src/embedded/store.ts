import { type HeadlinePayload, IndexUsageError, type Metric } from '../types.ts';
import type { WalEntry } from '../wal.ts';
import { PayloadFilter } from './payload-filter.ts';

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

/** What the graph must do after entries were applied to the store. */
export interface GraphChange {
  removed: number[];
  labels: Uint32Array;
  /** the added vectors, `labels.length × dims` */
  vectors: Float32Array;
}

/** The snapshot's view of a store: ids by label ('' when deleted), payloads, the raw vectors. */
export interface StoredItems {
  ids: string[];
  payloads: (HeadlinePayload | null)[];
}

/**
 * The points of one collection in memory: label → item id, payload and vector, the reverse map
 * and the payload filter. It knows nothing of files or the graph: applying WAL entries returns the
 * graph change for the caller to make.
 */
export class PointStore {
  /** label → item id ('' when deleted) */
  private readonly ids: string[] = [];
  private readonly payloads: (HeadlinePayload | undefined)[] = [];
  private readonly labels = new Map<string, number>();
  private vectors = new Float32Array(0);
  private capacity = 0;
  readonly filter = new PayloadFilter();

  constructor(
    readonly dims: number,
    readonly metric: Metric,
  ) {}

  /** a store from a snapshot's items and vector bytes; also returns the deleted labels (for the graph) */
  static fromSnapshot(
    dims: number,
    metric: Metric,
    items: StoredItems,
    vectorBytes: Uint8Array,
  ): { store: PointStore; deleted: number[] } {
    const store = new PointStore(dims, metric);
    const n = items.ids.length;
    store.ensureCapacity(n);
    new Uint8Array(store.vectors.buffer).set(vectorBytes.subarray(0, n * dims * 4));
    const deleted: number[] = [];
    for (let l = 0; l < n; l++) {
      const id = items.ids[l]!;
      const p = items.payloads[l] ?? undefined;
      store.ids.push(id);
      store.payloads.push(p);
      if (id && p) store.index(l, id, p);
      else deleted.push(l);
    }
    return { store, deleted };
  }

  get count(): number {
    return this.labels.size;
  }

  /** labels ever given out (deleted ones included): the size of a label mask */
  get labelSpan(): number {
    return this.ids.length;
  }

  has(itemId: string): boolean {
    return this.labels.has(itemId);
  }

  liveLabels(): IterableIterator<number> {
    return this.labels.values();
  }

  idOf(label: number): string | undefined {
    return this.ids[label] || undefined;
  }

  payloadOf(label: number): HeadlinePayload | undefined {
    return this.payloads[label];
  }

  vectorOf(label: number): Float32Array {
    return this.vectors.subarray(label * this.dims, (label + 1) * this.dims);
  }

  /** every vector, row-major by label (for exact scans and snapshots) */
  get rawVectors(): Float32Array {
    return this.vectors;
  }

  /** every live point's vector (a copy), by item id */
  entries(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [id, label] of this.labels) out.set(id, Float32Array.from(this.vectorOf(label)));
    return out;
  }

  items(): StoredItems {
    return { ids: this.ids, payloads: this.payloads.map((p) => p ?? null) };
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

  /** entries that would change something (exact re-deliveries dropped: nothing to log or apply) */
  changes(entries: readonly WalEntry[]): WalEntry[] {
    return entries.filter((e) => {
      if (e.op === 'delete') return this.labels.has(e.itemId);
      const l = this.labels.get(e.itemId);
      if (l === undefined) return true;
      const p = this.payloads[l];
      return !(p && samePayload(p, e.payload) && sameVector(this.vectorOf(l), e.vector));
    });
  }

  private ensureCapacity(n: number): void {
    if (n <= this.capacity) return;
    const next = Math.max(n, Math.ceil(this.capacity * 1.5), 1024);
    const v = new Float32Array(next * this.dims);
    v.set(this.vectors);
    this.vectors = v;
    this.filter.grow(next);
    this.capacity = next;
  }

  private index(label: number, id: string, p: HeadlinePayload): void {
    this.labels.set(id, label);
    this.filter.add(label, p);
  }

  /** apply entries in memory (after they are durable in the log); returns what the graph must do */
  apply(entries: readonly WalEntry[]): GraphChange {
    const addLabels: number[] = [];
    const addVectors: Float32Array[] = [];
    const removed: number[] = [];
    const pending = new Map<number, number>(); // label → index in addLabels
    for (const e of entries) {
      const existing = this.labels.get(e.itemId);
      if (e.op === 'delete') {
        if (existing === undefined) continue;
        const p = this.payloads[existing];
        if (p) this.filter.remove(existing, p);
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
        if (old) this.filter.remove(label, old);
      }
      this.ids[label] = e.itemId;
      this.payloads[label] = e.payload;
      this.index(label, e.itemId, e.payload);
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
    const keep = addLabels.map((l, i) => [l, i] as const).filter(([l]) => l >= 0);
    const labels = Uint32Array.from(keep, ([l]) => l);
    const vectors = new Float32Array(keep.length * this.dims);
    for (let j = 0; j < keep.length; j++) vectors.set(addVectors[keep[j]![1]]!, j * this.dims);
    return { removed, labels, vectors };
  }
}
