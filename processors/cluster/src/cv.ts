import type { LabeledHeadline } from './dataset.ts';
import type { PRF } from './metrics.ts';
import { type ClusterOptions, ClusterState, DEFAULT_OPTIONS } from './state.ts';

/** A row with the embedding of its title (semantic variants). */
export interface CvRow extends LabeledHeadline {
  vector?: ArrayLike<number>;
}

export type CvConfig = Partial<ClusterOptions>;

export interface FoldChoice {
  fold: number;
  config: CvConfig;
  /** mean B-cubed F1 of the config over the other folds' rows (what it was chosen on) */
  trainF1: number;
  /** B-cubed F1 on this fold's rows (never seen by the choice) */
  testF1: number;
}

export interface CvResult {
  /** every row scored with the config chosen without its fold (pooled over folds) */
  pooled: { bcubed: PRF; pairwise: PRF; n: number };
  folds: FoldChoice[];
}

/**
 * Per-row clustering counts, so a subset of rows can be scored inside the whole stream's clusters:
 * for row i, c = |its predicted cluster|, g = |its gold story|, both = |the two's intersection|
 * (all counted over the whole stream, so a row that joined another fold's story costs precision).
 */
export function rowCounts(predicted: readonly string[], gold: readonly string[]): Int32Array[] {
  const c = new Map<string, number>();
  const g = new Map<string, number>();
  const cg = new Map<string, number>();
  const key = (i: number) => `${predicted[i]}\u0000${gold[i]}`;
  for (let i = 0; i < predicted.length; i++) {
    c.set(predicted[i]!, (c.get(predicted[i]!) ?? 0) + 1);
    g.set(gold[i]!, (g.get(gold[i]!) ?? 0) + 1);
    cg.set(key(i), (cg.get(key(i)) ?? 0) + 1);
  }
  return predicted.map((p, i) => Int32Array.of(c.get(p)!, g.get(gold[i]!)!, cg.get(key(i))!));
}

const f1 = (p: number, r: number) => (p + r === 0 ? 0 : (2 * p * r) / (p + r));

/**
 * B-cubed over the rows `idx` (mean per-row precision both/c and recall both/g) and pairwise
 * over the pairs with at least one end in `idx` (a pair whose two ends are both in idx counts twice,
 * once per end: the precision and recall ratios are unchanged when idx is everything).
 */
export function scoreRows(counts: readonly Int32Array[], idx: readonly number[]): { bcubed: PRF; pairwise: PRF } {
  let bp = 0;
  let br = 0;
  let tp = 0;
  let pp = 0;
  let gp = 0;
  for (const i of idx) {
    const [c, g, both] = counts[i]! as unknown as [number, number, number];
    bp += both / c;
    br += both / g;
    tp += both - 1;
    pp += c - 1;
    gp += g - 1;
  }
  const n = Math.max(idx.length, 1);
  const P = pp === 0 ? 1 : tp / pp;
  const R = gp === 0 ? 1 : tp / gp;
  return {
    bcubed: { precision: bp / n, recall: br / n, f1: f1(bp / n, br / n) },
    pairwise: { precision: P, recall: R, f1: f1(P, R) },
  };
}

/** Story → fold, a deterministic shuffle of the story labels (FNV-1a of seed + label). */
export function foldsByStory(rows: readonly LabeledHeadline[], k: number, seed = 16): number[] {
  const stories = [...new Set(rows.map((r) => r.story))];
  const h = (s: string) => {
    let x = 0x811c9dc5 ^ seed;
    for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 0x01000193) >>> 0;
    return x;
  };
  stories.sort((a, b) => h(a) - h(b) || (a < b ? -1 : 1));
  const fold = new Map(stories.map((s, i) => [s, i % k]));
  return rows.map((r) => fold.get(r.story)!);
}

/** One online pass over the whole stream (event-time order) with `config`: story id per row. */
export function runStream(rows: readonly CvRow[], config: CvConfig): string[] {
  const st = new ClusterState({ ...DEFAULT_OPTIONS, ...config });
  return rows.map((r) => st.assign(r).storyId);
}

/**
 * Cross-validation grouped by story. Every config runs once over the whole stream (the other
 * stories are there, as in production); a fold's rows are scored inside the whole stream's clusters
 * (`scoreRows`: joining another fold's story costs precision) with the config that has the best
 * mean B-cubed F1 over the *other* folds' rows, so no threshold is chosen on the rows it scores.
 */
export function crossValidate(
  rows: readonly CvRow[],
  configs: readonly CvConfig[],
  folds: readonly number[],
  onProgress?: (done: number, total: number) => void,
): CvResult & { perConfig: { config: CvConfig; foldF1: number[]; predicted: string[] }[] } {
  const k = Math.max(...folds) + 1;
  const gold = rows.map((r) => r.story);
  const idxOf = Array.from({ length: k }, (_, f) => folds.flatMap((x, i) => (x === f ? [i] : [])));
  const perConfig = configs.map((config, n) => {
    const predicted = runStream(rows, config);
    const counts = rowCounts(predicted, gold);
    const foldF1 = idxOf.map((idx) => scoreRows(counts, idx).bcubed.f1);
    onProgress?.(n + 1, configs.length);
    return { config, foldF1, predicted, counts };
  });
  const pooledCounts = new Array<Int32Array>(rows.length);
  const choices: FoldChoice[] = [];
  for (let f = 0; f < k; f++) {
    let best = perConfig[0]!;
    let bestF1 = -1;
    for (const c of perConfig) {
      const others = c.foldF1.filter((_, j) => j !== f);
      const m = others.reduce((a, b) => a + b, 0) / others.length;
      if (m > bestF1 + 1e-12) {
        bestF1 = m;
        best = c;
      }
    }
    for (const i of idxOf[f]!) pooledCounts[i] = best.counts[i]!;
    choices.push({ fold: f, config: best.config, trainF1: bestF1, testF1: best.foldF1[f]! });
  }
  return {
    pooled: {
      ...scoreRows(
        pooledCounts,
        rows.map((_, i) => i),
      ),
      n: rows.length,
    },
    folds: choices,
    perConfig,
  };
}

/** The cartesian product of option lists. */
export function grid(axes: { [K in keyof ClusterOptions]?: readonly ClusterOptions[K][] }): CvConfig[] {
  let out: CvConfig[] = [{}];
  for (const [key, values] of Object.entries(axes) as [keyof ClusterOptions, unknown[]][]) {
    out = out.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  }
  return out;
}
