import type { HeadlinePayload, SearchFilter } from '../types.ts';

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

/**
 * The payload filter of one collection: inverted lists for the equality fields (category, source,
 * story id) and a published_at column for ranges. It answers "which labels match this filter";
 * the search decides how to use them.
 */
export class PayloadFilter {
  private readonly byCategory = new Map<string, Set<number>>();
  private readonly bySource = new Map<string, Set<number>>();
  private readonly byStory = new Map<string, Set<number>>();
  private publishedAt = new Float64Array(0);

  /** room for labels below `capacity` (new slots have no date) */
  grow(capacity: number): void {
    if (capacity <= this.publishedAt.length) return;
    const p = new Float64Array(capacity).fill(Number.NaN);
    p.set(this.publishedAt);
    this.publishedAt = p;
  }

  add(label: number, p: HeadlinePayload): void {
    addTo(this.byCategory, p.category, label);
    addTo(this.bySource, p.source, label);
    addTo(this.byStory, p.story_id, label);
    this.publishedAt[label] = p.published_at ?? Number.NaN;
  }

  remove(label: number, p: HeadlinePayload): void {
    removeFrom(this.byCategory, p.category, label);
    removeFrom(this.bySource, p.source, label);
    removeFrom(this.byStory, p.story_id, label);
    this.publishedAt[label] = Number.NaN;
  }

  /** labels matching `f`: from the smallest inverted list, or a scan of `live` for a range-only filter */
  candidates(f: SearchFilter, live: Iterable<number>): number[] {
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
      for (const l of live) if (inRange(l)) out.push(l);
    }
    return out;
  }
}
