import { MinHeap } from './heap.ts';
import { features } from './tokenize.ts';

/** One headline as the cluster stage sees it. */
export interface HeadlineRecord {
  itemId: string;
  title: string;
  source?: string;
  /** Event time, epoch ms. Ageing uses this, never the wall clock. */
  publishedAt: number;
  category?: string;
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
 * Keys: `m` (meta), `s/<storyId>` (story header), `t/<term>/<storyId>` (term count in a story),
 * `i/<itemId>` (the assignment of an item, for idempotent re-delivery).
 */
export interface ChangelogEntry {
  key: string;
  value: string | null;
}

export interface AssignResult extends Assignment {
  /** State changes made by this call, in order; empty for a re-delivered item. */
  changelog: ChangelogEntry[];
}

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
}

export const DEFAULT_OPTIONS: ClusterOptions = Object.freeze({
  windowMs: 24 * 3600_000,
  maxStoryAgeMs: 7 * 24 * 3600_000,
  threshold: 0.1,
  seedThreshold: 0.2,
  bigrams: false,
  idf: 'story',
  useCategory: false,
});

interface Story {
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
}

interface ItemValue {
  s: string;
  sim: number;
  new: boolean;
}

interface StoryValue {
  seq: number;
  opener: string;
  first: number;
  last: number;
  size: number;
  cat?: string;
}

interface MetaValue {
  v: 1;
  clock: number;
  seq: number;
  cfg: string;
}

interface HeapEntry {
  ts: number;
  seq: number;
  id: string;
}

const META_KEY = 'm';
const storyKey = (id: string) => `s/${id}`;
const itemKey = (id: string) => `i/${id}`;
const termKey = (term: string, storyId: string) => `t/${term}/${storyId}`;

/** Story ids are a pure function of the item that opened the story. */
export const storyIdFor = (openerItemId: string): string => `s-${openerItemId}`;

function fingerprint(o: ClusterOptions): string {
  return JSON.stringify([o.windowMs, o.maxStoryAgeMs, o.threshold, o.seedThreshold, o.bigrams, o.idf, o.useCategory]);
}

/**
 * Online, incremental story clustering over a stream of headlines.
 *
 * Representation: each headline is a set of normalised tokens (optionally + bigrams) weighted
 * by a streaming IDF computed over the live window; a story is the count vector of its members'
 * tokens (a centroid). An item joins the story with the highest cosine(idf-weighted item,
 * story counts) if it reaches `threshold`, else opens a new story whose id derives from the
 * item id. Candidates come from an inverted index term → live stories. Stories whose newest
 * item falls out of the event-time window are evicted together with their index postings,
 * term statistics and item ids, so the state stays bounded by the window.
 *
 * Everything the scores depend on is integer state (counts), so a state restored from the
 * changelog makes bit-identical decisions to the uninterrupted one.
 */
export class ClusterState {
  readonly options: ClusterOptions;
  private readonly cfg: string;
  private clock = Number.NEGATIVE_INFINITY;
  private seq = 0;
  private readonly stories = new Map<string, Story>();
  private readonly items = new Map<string, ItemValue>();
  /** term → live stories containing it. */
  private readonly postings = new Map<string, Set<Story>>();
  /** term → live items containing it (for idf: 'item'). */
  private readonly itemDf = new Map<string, number>();
  private liveItems = 0;
  /** Stories by newest item time (lazy: stale entries are skipped) and by first item time. */
  private readonly byLast = new MinHeap<HeapEntry>(heapLess);
  private readonly byFirst = new MinHeap<HeapEntry>(heapLess);

  constructor(options: Partial<ClusterOptions> = {}) {
    this.options = Object.freeze({ ...DEFAULT_OPTIONS, ...options });
    this.cfg = fingerprint(this.options);
    if (!(this.options.windowMs > 0)) throw new RangeError('windowMs must be > 0');
    if (!(this.options.maxStoryAgeMs >= this.options.windowMs))
      throw new RangeError('maxStoryAgeMs must be ≥ windowMs');
    for (const k of ['threshold', 'seedThreshold'] as const) {
      const v = this.options[k];
      if (!(v >= 0 && v <= 1)) throw new RangeError(`${k} ∉ [0,1]`);
    }
  }

  /** Assigns a record to a story, returning the assignment and the changelog it produced. */
  assign(rec: HeadlineRecord): AssignResult {
    const seen = this.items.get(rec.itemId);
    if (seen) return { storyId: seen.s, isNew: seen.new, similarity: seen.sim, changelog: [] };
    if (!Number.isFinite(rec.publishedAt)) throw new RangeError(`publishedAt of ${rec.itemId} is not a number`);

    const changelog: ChangelogEntry[] = [];
    if (rec.publishedAt > this.clock) {
      this.clock = rec.publishedAt;
      this.evict(changelog);
    }

    const feats = features(rec.title, this.options.bigrams);
    const { story: best, score } = this.bestStory(feats, rec.category);
    let story: Story;
    let isNew: boolean;
    if (best) {
      story = best;
      isNew = false;
    } else {
      const id = storyIdFor(rec.itemId);
      story = {
        id,
        seq: this.seq++,
        opener: rec.itemId,
        firstTs: rec.publishedAt,
        lastTs: rec.publishedAt,
        size: 0,
        category: rec.category,
        terms: new Map(),
        sq: 0,
        members: [],
      };
      this.stories.set(id, story);
      isNew = true;
    }
    this.addItem(story, rec, feats);

    const value: ItemValue = { s: story.id, sim: score, new: isNew };
    this.items.set(rec.itemId, value);
    changelog.push({ key: itemKey(rec.itemId), value: JSON.stringify(value) });
    changelog.push({ key: storyKey(story.id), value: JSON.stringify(storyValue(story)) });
    for (const t of feats) changelog.push({ key: termKey(t, story.id), value: String(story.terms.get(t)) });
    changelog.push({ key: META_KEY, value: JSON.stringify(this.meta()) });
    return { storyId: story.id, isNew, similarity: score, changelog };
  }

  /** Looks up a previous assignment without changing anything. */
  lookup(itemId: string): Assignment | undefined {
    const v = this.items.get(itemId);
    return v && { storyId: v.s, isNew: v.new, similarity: v.sim };
  }

  /** Sizes of the live state (for metrics and boundedness checks). */
  stats(): { stories: number; items: number; terms: number; postings: number; clock: number } {
    let postings = 0;
    for (const s of this.postings.values()) postings += s.size;
    return {
      stories: this.stories.size,
      items: this.items.size,
      terms: this.postings.size,
      postings,
      clock: this.clock,
    };
  }

  /** The whole live state as changelog entries (what a fully compacted topic would hold). */
  snapshot(): ChangelogEntry[] {
    const out: ChangelogEntry[] = [];
    if (this.seq === 0 && this.stories.size === 0) return out;
    out.push({ key: META_KEY, value: JSON.stringify(this.meta()) });
    const stories = [...this.stories.values()].sort((a, b) => a.seq - b.seq);
    for (const s of stories) {
      out.push({ key: storyKey(s.id), value: JSON.stringify(storyValue(s)) });
      for (const [t, c] of s.terms) out.push({ key: termKey(t, s.id), value: String(c) });
      for (const m of s.members) out.push({ key: itemKey(m), value: JSON.stringify(this.items.get(m)) });
    }
    return out;
  }

  /**
   * Rebuilds a state from changelog entries in log order (raw or compacted; later entries win,
   * tombstones delete). Throws if the log was written with different options or is inconsistent.
   */
  static restore(entries: Iterable<ChangelogEntry>, options: Partial<ClusterOptions> = {}): ClusterState {
    const st = new ClusterState(options);
    const latest = new Map<string, string>();
    for (const e of entries) {
      if (e.value === null) latest.delete(e.key);
      else latest.set(e.key, e.value);
    }
    const metaRaw = latest.get(META_KEY);
    if (metaRaw === undefined) {
      if (latest.size > 0) throw new Error('changelog has entries but no meta record');
      return st;
    }
    const meta = JSON.parse(metaRaw) as MetaValue;
    if (meta.v !== 1) throw new Error(`unsupported changelog version ${String(meta.v)}`);
    if (meta.cfg !== st.cfg) {
      throw new Error(`changelog was written with options ${meta.cfg}, not ${st.cfg}`);
    }
    st.clock = meta.clock;
    st.seq = meta.seq;

    const termRows: [string, string, number][] = [];
    const itemRows: [string, ItemValue][] = [];
    for (const [key, raw] of latest) {
      if (key.startsWith('s/')) {
        const v = JSON.parse(raw) as StoryValue;
        const id = key.slice(2);
        st.stories.set(id, {
          id,
          seq: v.seq,
          opener: v.opener,
          firstTs: v.first,
          lastTs: v.last,
          size: v.size,
          category: v.cat,
          terms: new Map(),
          sq: 0,
          members: [],
        });
      } else if (key.startsWith('t/')) {
        const slash = key.indexOf('/', 2);
        termRows.push([key.slice(2, slash), key.slice(slash + 1), Number(raw)]);
      } else if (key.startsWith('i/')) {
        itemRows.push([key.slice(2), JSON.parse(raw) as ItemValue]);
      }
    }
    for (const [term, storyId, count] of termRows) {
      const s = st.stories.get(storyId);
      if (!s) throw new Error(`term ${term} refers to unknown story ${storyId}`);
      s.terms.set(term, count);
      s.sq += count * count;
      st.posting(term).add(s);
      st.itemDf.set(term, (st.itemDf.get(term) ?? 0) + count);
    }
    for (const [itemId, v] of itemRows) {
      const s = st.stories.get(v.s);
      if (!s) throw new Error(`item ${itemId} refers to unknown story ${v.s}`);
      s.members.push(itemId);
      st.items.set(itemId, v);
    }
    for (const s of st.stories.values()) {
      if (s.members.length !== s.size) {
        throw new Error(`story ${s.id} has size ${s.size} but ${s.members.length} items in the changelog`);
      }
      st.liveItems += s.size;
      st.byLast.push({ ts: s.lastTs, seq: s.seq, id: s.id });
      st.byFirst.push({ ts: s.firstTs, seq: s.seq, id: s.id });
    }
    return st;
  }

  private posting(term: string): Set<Story> {
    let p = this.postings.get(term);
    if (!p) {
      p = new Set();
      this.postings.set(term, p);
    }
    return p;
  }

  private meta(): MetaValue {
    return { v: 1, clock: this.clock, seq: this.seq, cfg: this.cfg };
  }

  private idf(term: string): number {
    switch (this.options.idf) {
      case 'none':
        return 1;
      case 'item':
        return Math.log((this.liveItems + 1) / ((this.itemDf.get(term) ?? 0) + 1)) + 1;
      case 'story':
        return Math.log((this.stories.size + 1) / ((this.postings.get(term)?.size ?? 0) + 1)) + 1;
    }
  }

  private bestStory(feats: string[], category: string | undefined): { story: Story | undefined; score: number } {
    const dot = new Map<Story, number>();
    let qq = 0;
    for (const t of feats) {
      const w = this.idf(t);
      qq += w * w;
      const p = this.postings.get(t);
      if (!p) continue;
      for (const s of p) dot.set(s, (dot.get(s) ?? 0) + w * s.terms.get(t)!);
    }
    // Best eligible story by cosine; ties go to the older story. `top` is the best cosine
    // overall (reported as the similarity of a new story).
    const { threshold, seedThreshold, useCategory } = this.options;
    let best: Story | undefined;
    let bestScore = 0;
    let top = 0;
    const qn = Math.sqrt(qq);
    for (const [s, d] of dot) {
      if (useCategory && category && s.category && category !== s.category) continue;
      const score = d / (qn * Math.sqrt(s.sq));
      if (score > top) top = score;
      if (score < threshold + (seedThreshold - threshold) / s.size) continue;
      if (score > bestScore || (score === bestScore && best && s.seq < best.seq)) {
        best = s;
        bestScore = score;
      }
    }
    return { story: best, score: best ? bestScore : top };
  }

  private addItem(s: Story, rec: HeadlineRecord, feats: string[]): void {
    for (const t of feats) {
      const c = s.terms.get(t) ?? 0;
      s.terms.set(t, c + 1);
      s.sq += 2 * c + 1;
      if (c === 0) {
        this.posting(t).add(s);
      }
      this.itemDf.set(t, (this.itemDf.get(t) ?? 0) + 1);
    }
    s.size++;
    s.members.push(rec.itemId);
    this.liveItems++;
    if (s.size === 1) this.byFirst.push({ ts: s.firstTs, seq: s.seq, id: s.id });
    if (rec.publishedAt > s.lastTs || s.size === 1) {
      s.lastTs = Math.max(s.lastTs, rec.publishedAt);
      this.byLast.push({ ts: s.lastTs, seq: s.seq, id: s.id });
    }
  }

  private evict(changelog: ChangelogEntry[]): void {
    const gone = new Set<Story>();
    const lastCut = this.clock - this.options.windowMs;
    for (let top = this.byLast.peek(); top && top.ts < lastCut; top = this.byLast.peek()) {
      this.byLast.pop();
      const s = this.stories.get(top.id);
      if (s && s.seq === top.seq && s.lastTs === top.ts) gone.add(s);
    }
    const firstCut = this.clock - this.options.maxStoryAgeMs;
    for (let top = this.byFirst.peek(); top && top.ts < firstCut; top = this.byFirst.peek()) {
      this.byFirst.pop();
      const s = this.stories.get(top.id);
      if (s && s.seq === top.seq) gone.add(s);
    }
    for (const s of [...gone].sort((a, b) => a.seq - b.seq)) this.drop(s, changelog);
  }

  private drop(s: Story, changelog: ChangelogEntry[]): void {
    this.stories.delete(s.id);
    changelog.push({ key: storyKey(s.id), value: null });
    for (const [t, c] of s.terms) {
      const p = this.postings.get(t)!;
      p.delete(s);
      if (p.size === 0) this.postings.delete(t);
      const df = this.itemDf.get(t)! - c;
      if (df === 0) this.itemDf.delete(t);
      else this.itemDf.set(t, df);
      changelog.push({ key: termKey(t, s.id), value: null });
    }
    for (const m of [...s.members].sort()) {
      this.items.delete(m);
      changelog.push({ key: itemKey(m), value: null });
    }
    this.liveItems -= s.size;
  }
}

function heapLess(a: HeapEntry, b: HeapEntry): boolean {
  return a.ts < b.ts || (a.ts === b.ts && a.seq < b.seq);
}

function storyValue(s: Story): StoryValue {
  const v: StoryValue = { seq: s.seq, opener: s.opener, first: s.firstTs, last: s.lastTs, size: s.size };
  if (s.category !== undefined) v.cat = s.category;
  return v;
}
