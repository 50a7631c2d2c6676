import type { Dataset } from './data.ts';

export interface ClassSizeProblem {
  label: string;
  rows: number;
  /** distinct groups (stories) of the class, when the data has groups */
  groups?: number;
  reason: string;
}

/** Default for `--min-class-examples`: fewer rows than this cannot train nor be scored meaningfully. */
export const DEFAULT_MIN_CLASS_EXAMPLES = 20;

/**
 * The classes a training set is too thin on: fewer than `minRows` rows, or (when the split is by
 * group) fewer than 2 groups — one story's near-duplicate headlines teach the story, not the class,
 * and a class held out as one story cannot be both trained and scored. `minRows` 0 checks nothing.
 */
export function thinClasses(ds: Dataset, minRows: number, byGroup: boolean): ClassSizeProblem[] {
  if (minRows <= 0) return [];
  const rows = new Map<string, number>();
  const groups = new Map<string, Set<string>>();
  for (const e of ds.examples) {
    rows.set(e.label, (rows.get(e.label) ?? 0) + 1);
    if (e.group !== undefined) {
      const g = groups.get(e.label) ?? new Set<string>();
      groups.set(e.label, g);
      g.add(e.group);
    }
  }
  const out: ClassSizeProblem[] = [];
  for (const label of ds.labels) {
    const n = rows.get(label) ?? 0;
    const g = groups.get(label)?.size;
    if (n < minRows)
      out.push({ label, rows: n, ...(g === undefined ? {} : { groups: g }), reason: `${n} rows < ${minRows}` });
    else if (byGroup && g !== undefined && g < 2)
      out.push({
        label,
        rows: n,
        groups: g,
        reason: `all ${n} rows are ${g} story: the split by story cannot both train and score it`,
      });
  }
  return out;
}
