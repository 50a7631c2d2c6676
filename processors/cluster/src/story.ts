import type { QVector } from './semantic.ts';
import { ChangelogOptionsError, META_KEY, type MetaValue, type SegmentValue } from './state-format.ts';

/** A live story of ClusterState: its members, token counts and what is not in the changelog yet. */
export interface Story {
  id: string;
  seq: number;
  opener: string;
  /** Event time of the opening item (fixed: bounds the story's lifetime). */
  firstTs: number;
  lastTs: number;
  size: number;
  category: string | undefined;
  /** term → number of member items containing it. */
  terms: Map<string, number>;
  /** Σ count² over terms: squared norm of the count vector (an exact integer). */
  sq: number;
  members: string[];
  /** segments written to the changelog (keys s/<id>/0 … s/<id>/<segs.length − 1>): items, token counts */
  segs: { n: number; terms: Map<string, number>; vec: QVector | undefined; ents: Map<string, number> }[];
  /** index in `members` of the first item not written to the changelog yet */
  written: number;
  /** token counts added by the members from `written` on */
  fresh: Map<string, number>;
  /** Σ of the members' quantised embeddings (semantic mode), its squared norm, and the part not yet written */
  vec: QVector | undefined;
  vsq: number;
  freshVec: QVector | undefined;
  /** entity mode: entity token → members naming it, and the part not yet written */
  ents: Map<string, number>;
  freshEnts: Map<string, number>;
}

export interface ItemValue {
  s: string;
  sim: number;
  new: boolean;
}

export interface HeapEntry {
  ts: number;
  seq: number;
  id: string;
}

/** A story with no member yet (assign adds the opener; restore adds the segments). */
export function newStory(
  id: string,
  seq: number,
  opener: string,
  firstTs: number,
  lastTs: number,
  category: string | undefined,
): Story {
  return {
    id,
    seq,
    opener,
    firstTs,
    lastTs,
    size: 0,
    category,
    terms: new Map(),
    sq: 0,
    members: [],
    segs: [],
    written: 0,
    fresh: new Map(),
    vec: undefined,
    vsq: 0,
    freshVec: undefined,
    ents: new Map(),
    freshEnts: new Map(),
  };
}

export function heapLess(a: HeapEntry, b: HeapEntry): boolean {
  return a.ts < b.ts || (a.ts === b.ts && a.seq < b.seq);
}

/**
 * The latest value of every key of a changelog in log order (raw or compacted; later entries win,
 * tombstones delete): the meta record and each story's segments by index. Undefined for an empty
 * log; throws when it was written by another version or with other options (`cfg`), or is inconsistent.
 */
export function readChangelog(
  entries: Iterable<{ key: string; value: string | null }>,
  cfg: string,
): { meta: MetaValue; segments: Map<string, SegmentValue[]> } | undefined {
  const latest = new Map<string, string>();
  for (const e of entries) {
    if (e.value === null) latest.delete(e.key);
    else latest.set(e.key, e.value);
  }
  const metaRaw = latest.get(META_KEY);
  if (metaRaw === undefined) {
    if (latest.size > 0) throw new Error('changelog has entries but no meta record');
    return undefined;
  }
  const meta = JSON.parse(metaRaw) as MetaValue;
  if (meta.v !== 2) {
    throw new Error(
      `unsupported changelog version ${String(meta.v)} (this build writes 2): replay into a new generation`,
    );
  }
  if (meta.cfg !== cfg) {
    throw new ChangelogOptionsError(meta.cfg, cfg);
  }

  const segments = new Map<string, SegmentValue[]>();
  for (const [key, raw] of latest) {
    if (key === META_KEY) continue;
    const slash = key.lastIndexOf('/');
    const k = Number(key.slice(slash + 1));
    if (!key.startsWith('s/') || slash < 3 || !Number.isInteger(k) || k < 0) {
      throw new Error(`unexpected changelog key ${key}`);
    }
    const id = key.slice(2, slash);
    let segs = segments.get(id);
    if (!segs) {
      segs = [];
      segments.set(id, segs);
    }
    segs[k] = JSON.parse(raw) as SegmentValue;
  }
  return { meta, segments };
}
