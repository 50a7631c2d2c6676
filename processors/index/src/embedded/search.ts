import type { AnnEngine } from '../engines.ts';
import { hasFilter, matchesFilter, type SearchHit, type SearchOptions } from '../types.ts';
import type { PointStore } from './store.ts';

export interface Scored {
  label: number;
  score: number;
}

/** the engine's distance as the API's score: similarity for cosine/dot, distance for euclid */
function score(store: PointStore, distance: number): number {
  return store.metric === 'euclid' ? Math.sqrt(Math.max(0, distance)) : 1 - distance;
}

/** brute force over `rows`: exact however selective the filter */
function exact(store: PointStore, q: Float32Array, rows: readonly number[], k: number): Scored[] {
  const d = store.dims;
  const v = store.rawVectors;
  const euclid = store.metric === 'euclid';
  const scored: Scored[] = [];
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

export function fromGraph(store: PointStore, r: { labels: number[]; distances: number[] }): Scored[] {
  return r.labels.map((label, i) => ({ label, score: score(store, r.distances[i]!) }));
}

/**
 * Nearest neighbours of `vector` in a collection. Without a filter: the graph. With one: a small
 * matching subset (≤ `exactScanMax`) is searched exactly; otherwise the graph is searched with the
 * filter (hnswlib applies it during the walk; usearch over-fetches by 1/selectivity and
 * post-filters), falling back to the exact scan when too few survive.
 */
export function searchPoints(
  store: PointStore,
  engine: AnnEngine,
  vector: Float32Array | readonly number[],
  opts: SearchOptions,
  exactScanMax: number,
): SearchHit[] {
  const limit = opts.limit ?? 10;
  const offset = opts.offset ?? 0;
  const k = limit + offset;
  const count = store.count;
  if (k <= 0 || count === 0) return [];
  const q = store.prepare(vector);
  let found: Scored[];
  if (!hasFilter(opts.filter)) {
    found = fromGraph(store, engine.search(q, Math.min(k, count), undefined, opts.ef));
  } else {
    const filter = opts.filter;
    const rows = store.filter.candidates(filter, store.liveLabels());
    if (rows.length <= Math.max(exactScanMax, k)) {
      found = exact(store, q, rows, k);
    } else if (engine.filtersInGraph) {
      const mask = new Uint8Array(store.labelSpan);
      for (const l of rows) mask[l] = 1;
      found = fromGraph(
        store,
        engine.search(q, k, (l) => mask[l] === 1, opts.ef),
      );
      if (found.length < k) found = exact(store, q, rows, k);
    } else {
      const selectivity = rows.length / count;
      const want = Math.min(count, Math.ceil((k / selectivity) * 2) + 10);
      const r = engine.search(q, want, undefined, opts.ef);
      found = [];
      for (let i = 0; i < r.labels.length && found.length < k; i++) {
        const p = store.payloadOf(r.labels[i]!);
        if (p && matchesFilter(p, filter)) found.push({ label: r.labels[i]!, score: score(store, r.distances[i]!) });
      }
      if (found.length < k) found = exact(store, q, rows, k);
    }
  }
  return hitsOf(store, found, offset, k);
}

/** ranks [offset, k) of `found` as hits with their item ids and payloads */
export function hitsOf(store: PointStore, found: readonly Scored[], offset: number, k: number): SearchHit[] {
  const hits: SearchHit[] = [];
  for (const f of found.slice(offset, k)) {
    const p = store.payloadOf(f.label);
    const id = store.idOf(f.label);
    if (!p || !id) continue; // deleted between graph and payload (cannot happen single-threaded)
    hits.push({ itemId: id, score: f.score, payload: p });
  }
  return hits;
}
