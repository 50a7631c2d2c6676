import { MinHeap } from './heap.ts';
import { addInto, decodeQ, encodeQ, type QVector, dot as qdot, quantise } from './semantic.ts';
import {
  type Assignment,
  type ChangelogEntry,
  type ClusterOptions,
  DEFAULT_OPTIONS,
  fingerprint,
  type HeadlineRecord,
  MAX_SEGMENTS,
  META_KEY,
  type MetaValue,
  SEGMENT_MAX_ITEMS,
  type SegmentValue,
  segmentKey,
  storyIdFor,
} from './state-format.ts';
import { type HeapEntry, heapLess, type ItemValue, newStory, readChangelog, type Story } from './story.ts';
import { entities, features } from './tokenize.ts';

export {
  type Assignment,
  type ChangelogEntry,
  ChangelogOptionsError,
  type ClusterOptions,
  DEFAULT_OPTIONS,
  type HeadlineRecord,
  type IdfMode,
  MAX_SEGMENTS,
  optionsKey,
  SEGMENT_MAX_ITEMS,
  storyIdFor,
} from './state-format.ts';

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
  /** stories changed since the last takeChangelog, in order of first change */
  private readonly dirty = new Set<Story>();
  /** evicted stories whose segments must be tombstoned, since the last takeChangelog */
  private readonly evicted: { id: string; segs: number }[] = [];

  constructor(options: Partial<ClusterOptions> = {}) {
    this.options = Object.freeze({ ...DEFAULT_OPTIONS, ...options });
    this.cfg = fingerprint(this.options);
    if (!(this.options.windowMs > 0)) throw new RangeError('windowMs must be > 0');
    if (!(this.options.maxStoryAgeMs >= this.options.windowMs))
      throw new RangeError('maxStoryAgeMs must be ≥ windowMs');
    if (!(this.options.decayHours >= 0)) throw new RangeError('decayHours must be ≥ 0');
    for (const k of ['threshold', 'seedThreshold', 'semanticWeight', 'entityWeight'] as const) {
      const v = this.options[k];
      if (!(v >= 0 && v <= 1)) throw new RangeError(`${k} ∉ [0,1]`);
    }
  }

  /**
   * Assigns a record to a story. The state change is recorded for the next `takeChangelog`;
   * a re-delivered item id returns its stored answer and changes nothing.
   */
  assign(rec: HeadlineRecord): Assignment {
    const seen = this.items.get(rec.itemId);
    if (seen) return { storyId: seen.s, isNew: seen.new, similarity: seen.sim };
    if (!Number.isFinite(rec.publishedAt)) throw new RangeError(`publishedAt of ${rec.itemId} is not a number`);

    if (rec.publishedAt > this.clock) {
      this.clock = rec.publishedAt;
      this.evict();
    }

    const feats = features(rec.title, this.options.bigrams);
    const q = this.options.semanticWeight > 0 && rec.vector && rec.vector.length > 0 ? quantise(rec.vector) : undefined;
    const ents = this.options.entityWeight > 0 ? entities(rec.title) : [];
    const { story: best, score } = this.bestStory(feats, rec.category, q, rec.publishedAt, ents);
    let story: Story;
    let isNew: boolean;
    if (best) {
      story = best;
      isNew = false;
    } else {
      const id = storyIdFor(rec.itemId);
      story = newStory(id, this.seq++, rec.itemId, rec.publishedAt, rec.publishedAt, rec.category);
      this.stories.set(id, story);
      isNew = true;
    }
    this.addItem(story, rec, feats, q, ents);
    this.items.set(rec.itemId, { s: story.id, sim: score, new: isNew });
    this.dirty.add(story);
    return { storyId: story.id, isNew, similarity: score };
  }

  /**
   * The changelog of everything assigned since the previous call, compacted (one entry per key,
   * tombstones included, in the order to write them): a new segment per story that gained items,
   * the tombstones of every segment of the stories that aged out, and the meta record. Empty when
   * nothing changed. The caller writes it in the same transaction as the outputs it belongs to;
   * if that transaction fails, the state must be restored from the log (not reused).
   */
  takeChangelog(): ChangelogEntry[] {
    if (this.dirty.size === 0 && this.evicted.length === 0) return [];
    const out = new Map<string, string | null>();
    const put = (key: string, value: string | null) => {
      out.delete(key);
      out.set(key, value);
    };
    for (const e of this.evicted) for (let k = 0; k < e.segs; k++) put(segmentKey(e.id, k), null);
    this.evicted.length = 0;
    for (const s of this.dirty) {
      if (s.written === s.members.length) continue;
      // the new items form a segment, merged with the ones below while those are not bigger
      const had = s.segs.length;
      let k = had;
      let n = s.members.length - s.written;
      for (; k > 0; k--) {
        const below = s.segs[k - 1]!.n;
        if (k < MAX_SEGMENTS && (below > n || below + n > SEGMENT_MAX_ITEMS)) break;
        n += below;
      }
      let terms = s.fresh;
      let vec = s.freshVec;
      let ents = s.freshEnts;
      if (k < had) {
        terms = new Map();
        vec = undefined;
        ents = new Map();
        for (let j = k; j < had; j++) {
          for (const [t, c] of s.segs[j]!.terms) terms.set(t, (terms.get(t) ?? 0) + c);
          for (const [t, c] of s.segs[j]!.ents) ents.set(t, (ents.get(t) ?? 0) + c);
          const v = s.segs[j]!.vec;
          if (v) vec = addInto(vec, v);
        }
        for (const [t, c] of s.fresh) terms.set(t, (terms.get(t) ?? 0) + c);
        if (s.freshVec) vec = addInto(vec, s.freshVec);
        for (const [t, c] of s.freshEnts) ents.set(t, (ents.get(t) ?? 0) + c);
      }
      put(segmentKey(s.id, k), JSON.stringify(this.segment(s, s.members.length - n, terms, vec, ents)));
      for (let j = k + 1; j < had; j++) put(segmentKey(s.id, j), null);
      s.segs.length = k;
      s.segs.push({ n, terms, vec, ents });
      s.written = s.members.length;
      s.fresh = new Map();
      s.freshVec = undefined;
      s.freshEnts = new Map();
    }
    this.dirty.clear();
    put(META_KEY, JSON.stringify(this.meta()));
    return [...out].map(([key, value]) => ({ key, value }));
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

  /**
   * The whole live state as changelog entries, each story as one segment. Restoring it gives a
   * state that decides identically; it does not touch what `takeChangelog` will return.
   */
  snapshot(): ChangelogEntry[] {
    const out: ChangelogEntry[] = [];
    if (this.seq === 0 && this.stories.size === 0) return out;
    out.push({ key: META_KEY, value: JSON.stringify(this.meta()) });
    const stories = [...this.stories.values()].sort((a, b) => a.seq - b.seq);
    for (const s of stories)
      out.push({ key: segmentKey(s.id, 0), value: JSON.stringify(this.segment(s, 0, s.terms, s.vec, s.ents)) });
    return out;
  }

  /**
   * Rebuilds a state from changelog entries in log order (raw or compacted; later entries win,
   * tombstones delete). Throws if the log was written with different options or is inconsistent.
   */
  static restore(entries: Iterable<ChangelogEntry>, options: Partial<ClusterOptions> = {}): ClusterState {
    const st = new ClusterState(options);
    const log = readChangelog(entries, st.cfg);
    if (!log) return st;
    st.clock = log.meta.clock;
    st.seq = log.meta.seq;
    const segments = log.segments;
    for (const [id, segs] of segments) {
      const head = segs[0];
      if (!head || head.q === undefined || head.f === undefined || head.i.length === 0) {
        throw new Error(`story ${id} has no header segment in the changelog`);
      }
      const opener = head.i[0]![0];
      if (storyIdFor(opener) !== id) throw new Error(`story ${id} is opened by ${opener}`);
      const s = newStory(id, head.q, opener, head.f, head.l, head.c);
      for (let k = 0; k < segs.length; k++) {
        const seg = segs[k];
        if (!seg) throw new Error(`story ${id} lacks segment ${k} of ${segs.length}`);
        if (seg.l > s.lastTs) s.lastTs = seg.l;
        for (const [itemId, sim] of seg.i) {
          s.members.push(itemId);
          st.items.set(itemId, { s: id, sim, new: itemId === opener });
        }
        const terms = new Map<string, number>();
        for (const term in seg.t) {
          const c = seg.t[term]!;
          terms.set(term, c);
          s.terms.set(term, (s.terms.get(term) ?? 0) + c);
        }
        const vec = seg.e === undefined ? undefined : decodeQ(seg.e);
        if (vec) s.vec = addInto(s.vec, vec);
        const ents = new Map(Object.entries(seg.n ?? {}));
        for (const [t, c] of ents) s.ents.set(t, (s.ents.get(t) ?? 0) + c);
        s.segs.push({ n: seg.i.length, terms, vec, ents });
      }
      if (s.vec) s.vsq = qdot(s.vec, s.vec);
      s.size = s.members.length;
      s.written = s.size;
      for (const [term, count] of s.terms) {
        s.sq += count * count;
        st.posting(term).add(s);
        st.itemDf.set(term, (st.itemDf.get(term) ?? 0) + count);
      }
      st.stories.set(id, s);
      st.liveItems += s.size;
      st.byLast.push({ ts: s.lastTs, seq: s.seq, id: s.id });
      st.byFirst.push({ ts: s.firstTs, seq: s.seq, id: s.id });
    }
    return st;
  }

  /** A segment value: the members from `from` on, with the token counts they added. */
  private segment(
    s: Story,
    from: number,
    terms: Map<string, number>,
    vec: QVector | undefined,
    ents: Map<string, number>,
  ): SegmentValue {
    const v: SegmentValue = { i: [], t: Object.fromEntries(terms), l: s.lastTs };
    if (vec) v.e = encodeQ(vec);
    if (ents.size > 0) v.n = Object.fromEntries(ents);
    if (from === 0) {
      v.q = s.seq;
      v.f = s.firstTs;
      if (s.category !== undefined) v.c = s.category;
    }
    for (let j = from; j < s.members.length; j++) {
      const m = s.members[j]!;
      v.i.push([m, this.items.get(m)!.sim]);
    }
    return v;
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
    return { v: 2, clock: this.clock, seq: this.seq, cfg: this.cfg };
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

  private bestStory(
    feats: string[],
    category: string | undefined,
    q: QVector | undefined,
    ts: number,
    ents: readonly string[],
  ): { story: Story | undefined; score: number } {
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
    const { threshold, seedThreshold, useCategory, semanticWeight: w, decayHours, entityWeight: we } = this.options;
    let best: Story | undefined;
    let bestScore = 0;
    let top = 0;
    const qn = Math.sqrt(qq);
    // With an embedding every live story is a candidate: a headline of the same story in other
    // words shares no token (the recall the lexical index cannot find).
    const qnorm = q ? Math.sqrt(qdot(q, q)) : 0;
    const candidates: Iterable<Story> = q && qnorm > 0 ? this.stories.values() : dot.keys();
    for (const s of candidates) {
      if (useCategory && category && s.category && category !== s.category) continue;
      const d = dot.get(s) ?? 0;
      let score = d === 0 ? 0 : d / (qn * Math.sqrt(s.sq));
      if (q && qnorm > 0 && s.vec && s.vsq > 0) {
        score = (1 - w) * score + (w * qdot(q, s.vec)) / (qnorm * Math.sqrt(s.vsq));
      }
      if (we > 0 && ents.length > 0) {
        let shared = 0;
        for (const e of ents) if (s.ents.has(e)) shared++;
        score = (1 - we) * score + (we * shared) / ents.length;
      }
      if (decayHours > 0 && ts > s.lastTs) score *= Math.exp(-(ts - s.lastTs) / (decayHours * 3600_000));
      if (score > top) top = score;
      if (score < threshold + (seedThreshold - threshold) / s.size) continue;
      if (score > bestScore || (score === bestScore && best && s.seq < best.seq)) {
        best = s;
        bestScore = score;
      }
    }
    return { story: best, score: best ? bestScore : top };
  }

  private addItem(
    s: Story,
    rec: HeadlineRecord,
    feats: string[],
    q: QVector | undefined,
    ents: readonly string[],
  ): void {
    for (const e of ents) {
      s.ents.set(e, (s.ents.get(e) ?? 0) + 1);
      s.freshEnts.set(e, (s.freshEnts.get(e) ?? 0) + 1);
    }
    if (q) {
      s.vec = addInto(s.vec, q);
      s.vsq = qdot(s.vec, s.vec);
      s.freshVec = addInto(s.freshVec, q);
    }
    for (const t of feats) {
      const c = s.terms.get(t) ?? 0;
      s.terms.set(t, c + 1);
      s.sq += 2 * c + 1;
      if (c === 0) {
        this.posting(t).add(s);
      }
      this.itemDf.set(t, (this.itemDf.get(t) ?? 0) + 1);
      s.fresh.set(t, (s.fresh.get(t) ?? 0) + 1);
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

  private evict(): void {
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
    for (const s of [...gone].sort((a, b) => a.seq - b.seq)) this.drop(s);
  }

  private drop(s: Story): void {
    this.stories.delete(s.id);
    this.dirty.delete(s);
    if (s.segs.length > 0) this.evicted.push({ id: s.id, segs: s.segs.length });
    for (const [t, c] of s.terms) {
      const p = this.postings.get(t)!;
      p.delete(s);
      if (p.size === 0) this.postings.delete(t);
      const df = this.itemDf.get(t)! - c;
      if (df === 0) this.itemDf.delete(t);
      else this.itemDf.set(t, df);
    }
    for (const m of s.members) this.items.delete(m);
    this.liveItems -= s.size;
  }
}
