import type { ArtifactHeader, MetricsSummary } from './artifact.ts';
import { encodeArtifact, saveArtifact } from './artifact.ts';
import { type Dataset, type Example, textOf } from './data.ts';
import { DEFAULT_FEATURES, type FeatureConfig, Featurizer, type SparseVec } from './features.ts';
import { type LinearWeights, scoreInto } from './linear.ts';
import { evaluate, expectedCalibrationError, type Metrics } from './metrics.ts';
import { ClassifierModel } from './model.ts';
import { groupSplit, kFolds, type Split, stratifiedSplit } from './split.ts';
import { DEFAULT_PARAMS, type Method, type TrainParams, trainLinear } from './trainers.ts';

export interface Candidate {
  method: Method;
  features?: Partial<FeatureConfig>;
  params?: Partial<TrainParams>;
}

/**
 * Word uni+bigrams plus fastText-style char 3-5-grams (weight 0.5), raw counts normalised by sqrt(n-gram count):
 * as accurate as log-tf + L2 in cross-validation, and it lets inference cache a score vector per word.
 */
export const FAST_CHARS: Partial<FeatureConfig> = { chars: 0.5, tf: 'count', l2: false, sqrtLen: true };

/**
 * The candidates `train classify` compares by k-fold cross-validation on the training part.
 * Chosen from the measurements in bench/classify.ts (see the package README); the NB-weighted linear
 * models with word uni+bigrams and fastText-style char 3-5-grams led on AG News and UCI.
 */
export const DEFAULT_CANDIDATES: Candidate[] = [
  { method: 'nbsvm', features: FAST_CHARS, params: { lr: 2 } },
  { method: 'nb-softmax', features: FAST_CHARS, params: { lr: 0.5 } },
  { method: 'cnb', features: FAST_CHARS, params: { alpha: 0.3 } },
  { method: 'softmax', features: FAST_CHARS, params: { lr: 2 } },
  { method: 'nbsvm', features: { chars: 0 }, params: { lr: 2 } },
];

export type TrainText = 'full' | 'title' | 'both';

export interface TrainOptions {
  name?: string;
  seed?: number;
  /** Fraction held out for the reported metrics (0 = no hold-out, train on everything). */
  holdout?: number;
  /** Split by example.group (UCI STORY). Defaults to true when the data has groups. */
  splitByGroup?: boolean;
  /** Candidates compared by CV; one candidate skips the CV. */
  candidates?: Candidate[];
  folds?: number;
  /** Retrain the chosen config on all rows (train + hold-out) for the artifact. Default true. */
  refit?: boolean;
  /**
   * Text used for training (default `both`): `full` = title + summary; `title` = title only; `both` = every row with a summary
   * appears twice (title-only and full), so the model is fit for records that lack a summary.
   */
  trainText?: TrainText;
  /** Measure records/s on the hold-out texts (single core). Default true. */
  measureSpeed?: boolean;
  log?: (line: string) => void;
}

export interface CandidateResult {
  candidate: Candidate;
  cvAccuracy: number;
  cvMacroF1: number;
  ms: number;
}

export interface TrainResult {
  header: ArtifactHeader;
  weights: LinearWeights;
  model: ClassifierModel;
  selection: CandidateResult[];
  chosen: Candidate;
  split: { kind: string; train: number; test: number };
  /** Hold-out metrics of the model trained on the training part only. */
  holdout?: {
    full: Metrics;
    titleOnly?: Metrics /** expected calibration error of the confidences on the hold-out (title + summary) */;
    ece?: number;
  };
}

export function resolveCandidate(c: Candidate, seed: number): { features: FeatureConfig; params: TrainParams } {
  return {
    features: { ...DEFAULT_FEATURES, ...c.features },
    params: { ...DEFAULT_PARAMS, ...c.params, method: c.method, seed },
  };
}

export function describeCandidate(c: Candidate): string {
  const parts: string[] = [c.method];
  for (const [k, v] of Object.entries({ ...c.features, ...c.params })) parts.push(`${k}=${v}`);
  return parts.join(' ');
}

/** Builds (X, y) for the given rows; `both` duplicates rows that have a summary as title-only. */
export function buildXY(
  f: Featurizer,
  rows: readonly Example[],
  labelIndex: ReadonlyMap<string, number>,
  mode: TrainText,
): { X: SparseVec[]; y: number[] } {
  const X: SparseVec[] = [];
  const y: number[] = [];
  for (const e of rows) {
    const yi = labelIndex.get(e.label)!;
    if (mode !== 'title' || !e.summary) {
      X.push(f.transform(textOf(e, mode !== 'title')));
      y.push(yi);
    }
    if (e.summary && mode !== 'full') {
      X.push(f.transform(textOf(e, false)));
      y.push(yi);
    }
  }
  return { X, y };
}

export function predictIndices(w: LinearWeights, X: readonly SparseVec[]): number[] {
  const s = new Float64Array(w.classes);
  return X.map((x) => {
    scoreInto(w, x, s);
    let a = 0;
    for (let c = 1; c < w.classes; c++) if (s[c]! > s[a]!) a = c;
    return a;
  });
}

export function makeSplit(ds: Dataset, holdout: number, seed: number, byGroup: boolean): Split & { kind: string } {
  const labelIndex = new Map(ds.labels.map((l, i) => [l, i]));
  const y = ds.examples.map((e) => labelIndex.get(e.label)!);
  if (holdout <= 0) return { train: ds.examples.map((_, i) => i), test: [], kind: 'none (all rows trained)' };
  if (byGroup) {
    const groups = ds.examples.map((e, i) => e.group ?? `row:${i}`);
    return {
      ...groupSplit(y, groups, holdout, seed),
      kind: `by group (story), ${Math.round(holdout * 100)}% held out`,
    };
  }
  return { ...stratifiedSplit(y, holdout, seed), kind: `stratified by label, ${Math.round(holdout * 100)}% held out` };
}

/**
 * Records per CPU-second of featurise + score + softmax on one thread, run for at least `minMs` of CPU time.
 * CPU time (process.cpuUsage) rather than wall time, so a busy shared machine does not skew the figure.
 */
export function measureThroughput(model: ClassifierModel, texts: readonly string[], minMs = 500): number {
  if (texts.length === 0) return 0;
  for (let i = 0; i < Math.min(texts.length, 500); i++) model.predictOne(texts[i]!); // warm-up
  let n = 0;
  const c0 = process.cpuUsage();
  let cpuMs = 0;
  while (cpuMs < minMs) {
    for (const s of texts) model.predictOne(s);
    n += texts.length;
    const c = process.cpuUsage(c0);
    cpuMs = (c.user + c.system) / 1000;
  }
  return n / (cpuMs / 1000);
}

function summary(m: Metrics, recordsPerSec?: number): MetricsSummary {
  return { n: m.n, accuracy: m.accuracy, macroF1: m.macroF1, ...(recordsPerSec ? { recordsPerSec } : {}) };
}

export function trainClassifier(ds: Dataset, opts: TrainOptions = {}): TrainResult {
  const seed = opts.seed ?? 42;
  const holdout = opts.holdout ?? 0.2;
  const hasGroups = ds.examples.some((e) => e.group !== undefined);
  const byGroup = opts.splitByGroup ?? hasGroups;
  const candidates = opts.candidates ?? DEFAULT_CANDIDATES;
  const folds = opts.folds ?? 3;
  const refit = opts.refit ?? true;
  const mode = opts.trainText ?? 'both';
  const log = opts.log ?? (() => {});
  if (candidates.length === 0) throw new RangeError('no candidates');

  const labelIndex = new Map(ds.labels.map((l, i) => [l, i]));
  const yAll = ds.examples.map((e) => labelIndex.get(e.label)!);
  const split = makeSplit(ds, holdout, seed, byGroup);
  log(
    `data: ${ds.examples.length} rows, ${ds.labels.length} labels; split ${split.kind}: ${split.train.length} train / ${split.test.length} test`,
  );

  const featurizers = new Map<string, Featurizer>();
  const featurizer = (fc: FeatureConfig): Featurizer => {
    const k = JSON.stringify(fc);
    const have = featurizers.get(k);
    if (have) return have;
    const f = new Featurizer(fc);
    featurizers.set(k, f);
    return f;
  };
  const rowsOf = (idx: readonly number[]) => idx.map((i) => ds.examples[i]!);

  // 1. Model selection: k-fold CV on the training part only (by group when splitting by group).
  const selection: CandidateResult[] = [];
  let chosen = candidates[0]!;
  if (candidates.length > 1) {
    const groups = byGroup ? ds.examples.map((e, i) => e.group ?? `row:${i}`) : undefined;
    const cv = kFolds(split.train, folds, seed + 1, groups, yAll);
    for (const [n, cand] of candidates.entries()) {
      const t0 = performance.now();
      const { features, params } = resolveCandidate(cand, seed);
      const f = featurizer(features);
      const truth: number[] = [];
      const pred: number[] = [];
      for (const fold of cv) {
        const tr = buildXY(f, rowsOf(fold.train), labelIndex, mode);
        const te = fold.test.map((i) => f.transform(textOf(ds.examples[i]!)));
        const m = trainLinear(tr.X, tr.y, ds.labels.length, f.dim, params);
        pred.push(...predictIndices(m.weights, te));
        truth.push(...fold.test.map((i) => yAll[i]!));
      }
      const ev = evaluate(truth, pred, ds.labels);
      const r = { candidate: cand, cvAccuracy: ev.accuracy, cvMacroF1: ev.macroF1, ms: performance.now() - t0 };
      selection.push(r);
      log(
        `cv ${n + 1}/${candidates.length} ${describeCandidate(cand)}: acc ${(r.cvAccuracy * 100).toFixed(2)}% macro-F1 ${(r.cvMacroF1 * 100).toFixed(2)}% (${(r.ms / 1000).toFixed(1)}s)`,
      );
    }
    // Macro-F1 first (skewed taxonomies such as HuffPost), accuracy to break ties.
    const best = selection.reduce((a, b) =>
      b.cvMacroF1 > a.cvMacroF1 + 1e-9 || (Math.abs(b.cvMacroF1 - a.cvMacroF1) <= 1e-9 && b.cvAccuracy > a.cvAccuracy)
        ? b
        : a,
    );
    chosen = best.candidate;
    log(`chosen: ${describeCandidate(chosen)}`);
  }

  const { features, params } = resolveCandidate(chosen, seed);
  const f = featurizer(features);
  const name = opts.name ?? `feedlog-classify-${ds.format}`;
  const textFields = ['title', 'summary'];
  const progress = (stage: string) => (e: { epoch: number; epochs: number; loss: number }) =>
    log(`${stage}: epoch ${e.epoch}/${e.epochs}${Number.isNaN(e.loss) ? '' : ` loss ${e.loss.toFixed(4)}`}`);

  // 2. Train the chosen config on the training part; evaluate on the hold-out.
  const trainXY = buildXY(f, rowsOf(split.train), labelIndex, mode);
  let trained = trainLinear(trainXY.X, trainXY.y, ds.labels.length, f.dim, params, progress('train'));
  const metrics: ArtifactHeader['metrics'] = {};
  let holdoutMetrics: TrainResult['holdout'];
  const labelCounts: Record<string, number> = {};
  for (const e of ds.examples) labelCounts[e.label] = (labelCounts[e.label] ?? 0) + 1;
  const baseHeader = (trainedOnRows: number) => ({
    name,
    labels: ds.labels,
    method: chosen.method,
    params,
    features,
    textFields,
    training: {
      data: `${ds.path.split('/').pop()} (${ds.format}, ${ds.examples.length} rows)`,
      format: ds.format,
      rows: ds.examples.length,
      labelCounts,
      split: `${split.kind}, seed ${seed}; metrics are from the model trained on the training part${refit && split.test.length ? ', the artifact is refit on all rows' : ''}`,
      seed,
      trainedOnRows,
      ...(selection.length
        ? {
            selection: selection.map((s) => ({
              candidate: describeCandidate(s.candidate),
              cvAccuracy: s.cvAccuracy,
              cvMacroF1: s.cvMacroF1,
            })),
          }
        : {}),
    },
    createdAt: new Date().toISOString(),
  });
  if (split.test.length > 0) {
    const testRows = rowsOf(split.test);
    const yTest = split.test.map((i) => yAll[i]!);
    const fullTexts = testRows.map((e) => textOf(e));
    const full = evaluate(
      yTest,
      predictIndices(
        trained.weights,
        fullTexts.map((t) => f.transform(t)),
      ),
      ds.labels,
    );
    const hasSummary = testRows.some((e) => e.summary);
    const titleOnly = hasSummary
      ? evaluate(
          yTest,
          predictIndices(
            trained.weights,
            testRows.map((e) => f.transform(textOf(e, false))),
          ),
          ds.labels,
        )
      : undefined;
    const tmp = new ClassifierModel(
      encodeArtifact(
        { ...baseHeader(split.train.length), temperature: trained.temperature, metrics: {} },
        trained.weights,
      ).header,
      trained.weights,
    );
    const speed = opts.measureSpeed === false ? undefined : measureThroughput(tmp, fullTexts);
    const speedTitle =
      opts.measureSpeed === false || !hasSummary
        ? undefined
        : measureThroughput(
            tmp,
            testRows.map((e) => textOf(e, false)),
          );
    const preds = fullTexts.map((t) => tmp.predictOne(t));
    const ece = expectedCalibrationError(
      preds.map((p) => p.confidence),
      preds.map((p, j) => p.category === testRows[j]!.label),
    );
    metrics.holdout = summary(full, speed);
    if (titleOnly) metrics.holdoutTitleOnly = summary(titleOnly, speedTitle);
    holdoutMetrics = { full, ...(titleOnly ? { titleOnly } : {}), ece };
    log(
      `hold-out: acc ${(full.accuracy * 100).toFixed(2)}% macro-F1 ${(full.macroF1 * 100).toFixed(2)}%${titleOnly ? `; title only: acc ${(titleOnly.accuracy * 100).toFixed(2)}% macro-F1 ${(titleOnly.macroF1 * 100).toFixed(2)}%` : ''}`,
    );
  }
  const best = selection.find((s) => s.candidate === chosen);
  if (best) metrics.cv = { n: split.train.length, accuracy: best.cvAccuracy, macroF1: best.cvMacroF1 };

  // 3. Refit on every row for the shipped artifact.
  let trainedOn = split.train.length;
  if (refit && split.test.length > 0) {
    const all = buildXY(f, ds.examples, labelIndex, mode);
    trained = trainLinear(all.X, all.y, ds.labels.length, f.dim, params, progress('refit'));
    trainedOn = ds.examples.length;
  }
  const { header } = encodeArtifact(
    { ...baseHeader(trainedOn), temperature: trained.temperature, metrics },
    trained.weights,
  );
  return {
    header,
    weights: trained.weights,
    model: new ClassifierModel(header, trained.weights),
    selection,
    chosen,
    split: { kind: split.kind, train: split.train.length, test: split.test.length },
    ...(holdoutMetrics ? { holdout: holdoutMetrics } : {}),
  };
}

/** Writes a trained result to `path`; returns the header as written. */
export function writeModel(path: string, r: TrainResult): ArtifactHeader {
  const { version: _v, weights: _w, format: _f, formatVersion: _fv, ...input } = r.header;
  return saveArtifact(path, input, r.weights);
}
