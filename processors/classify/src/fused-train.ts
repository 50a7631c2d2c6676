import { encodeArtifact } from './artifact.ts';
import { type Dataset, textOf } from './data.ts';
import { headProbabilities as headProbabilitiesOf, trainEmbeddingHead } from './embedding-head.ts';
import { decodeFused, encodeFused } from './fused-artifact.ts';
import type { FusedClassifierModel } from './fused-model.ts';
import { argmax, chooseFusion, type FusionChoice } from './fusion.ts';
import { DEFAULT_KNN, KnnVoter } from './knn.ts';
import { evaluate } from './metrics.ts';
import { kFolds, type Split } from './split.ts';
import { type Candidate, DEFAULT_CANDIDATES, type TrainResult, trainClassifier } from './train.ts';

/** L2 strengths of the embedding head compared out of fold (on standardised MiniLM vectors 0.1 led on AG News) */
export const HEAD_L2_GRID: readonly number[] = [0.01, 0.03, 0.1, 0.3, 1];

export interface FusedTrainOptions {
  /** the rows of `ds` to train on (the training part; never the rows being scored) */
  rows: readonly number[];
  /** unit sentence embedding of every row of `ds` (title + summary, the stage's embedding text) */
  vectors: readonly Float32Array[];
  embeddingModel: string;
  name?: string;
  seed?: number;
  /** inner folds for the out-of-fold predictions the fusion is chosen on; default 4 */
  innerFolds?: number;
  /** inner folds grouped by story (ds rows' `group`); default when the data has groups */
  byGroup?: boolean;
  /** n-gram candidates (chosen by trainClassifier's CV on `rows`); one = no selection */
  candidates?: Candidate[];
  /** L2 strengths of the embedding head tried; the best inner out-of-fold macro-F1 wins (default HEAD_L2_GRID) */
  headL2?: readonly number[];
  k?: number;
  log?: (line: string) => void;
}

export interface FusedTrainResult {
  model: FusedClassifierModel;
  bytes: Buffer;
  choice: FusionChoice;
  /** the n-gram member's own training result (its candidate selection) */
  ngram: TrainResult;
  /** the inner out-of-fold member distributions the fusion was chosen on: members[m][j] for row rows[j] */
  oof: { rows: readonly number[]; y: number[]; folds: Split[]; members: Float64Array[][] };
}

/**
 * Trains the fused classifier on `rows`: picks the n-gram candidate by trainClassifier's CV on those
 * rows, then scores every row out of fold (inner k-fold over `rows`, grouped by story when the data
 * has stories) with the three members trained without it, chooses the fusion weights (macro-F1) and
 * temperature (log-loss) on those predictions, and fits the three members on all of `rows`.
 */
export function trainFused(ds: Dataset, o: FusedTrainOptions): FusedTrainResult {
  const seed = o.seed ?? 42;
  const log = o.log ?? (() => {});
  const C = ds.labels.length;
  const li = new Map(ds.labels.map((l, i) => [l, i]));
  const y = ds.examples.map((e) => li.get(e.label)!);
  const byGroup = o.byGroup ?? ds.examples.some((e) => e.group !== undefined);
  const l2Grid = o.headL2 ?? HEAD_L2_GRID;
  const k = o.k ?? DEFAULT_KNN.k;
  const sub = (rows: readonly number[]): Dataset => ({ ...ds, examples: rows.map((i) => ds.examples[i]!) });
  const ngramOn = (rows: readonly number[], candidates: Candidate[]) =>
    trainClassifier(sub(rows), {
      seed,
      holdout: 0,
      splitByGroup: byGroup,
      candidates,
      measureSpeed: false,
      ...(o.name ? { name: `${o.name}-ngram` } : {}),
    });
  const ngram = ngramOn(o.rows, o.candidates ?? [DEFAULT_CANDIDATES[0]!]);
  log(`n-gram member: ${ngram.chosen.method}`);

  // out-of-fold predictions of the three members for every training row
  const groups = byGroup ? ds.examples.map((e, i) => e.group ?? `row:${i}`) : undefined;
  const folds = kFolds(o.rows, o.innerFolds ?? 4, seed + 2, groups, y);
  const pos = new Map(o.rows.map((r, j) => [r, j]));
  const oof: Float64Array[][] = [[], [], []];
  const headOof = l2Grid.map(() => [] as Float64Array[]);
  for (const [f, fold] of folds.entries()) {
    const ng = ngramOn(fold.train, [ngram.chosen]).model;
    const heads = l2Grid.map((l2) =>
      trainEmbeddingHead(
        fold.train.map((i) => o.vectors[i]!),
        fold.train.map((i) => y[i]!),
        C,
        { l2 },
      ),
    );
    const knn = KnnVoter.fromRows(
      fold.train.map((i) => o.vectors[i]!),
      fold.train.map((i) => y[i]!),
      C,
      { k },
    );
    const kp = knn.probabilities(fold.test.map((i) => o.vectors[i]!));
    fold.test.forEach((i, t) => {
      const j = pos.get(i)!;
      oof[0]![j] = Float64Array.from(ng.probabilities(textOf(ds.examples[i]!)));
      heads.forEach((h, g) => {
        headOof[g]![j] = headProbabilitiesOf(h, o.vectors[i]!);
      });
      oof[2]![j] = kp[t]!;
    });
    log(`inner fold ${f + 1}/${folds.length}`);
  }
  const yRows = o.rows.map((i) => y[i]!);
  // the head's L2 by its own out-of-fold macro-F1 (accuracy breaks ties)
  const headScores = headOof.map((ps) => evaluate(yRows, ps.map(argmax), ds.labels));
  let g = 0;
  headScores.forEach((sc, k) => {
    const b = headScores[g]!;
    if (sc.macroF1 > b.macroF1 + 1e-12 || (Math.abs(sc.macroF1 - b.macroF1) <= 1e-12 && sc.accuracy > b.accuracy))
      g = k;
  });
  const l2 = l2Grid[g]!;
  oof[1] = headOof[g]!;
  log(
    `head L2 ${l2} (out-of-fold macro-F1 ${headScores.map((sc, k) => `${l2Grid[k]}: ${(sc.macroF1 * 100).toFixed(2)}%`).join(', ')})`,
  );
  const choice = chooseFusion(oof, yRows, ds.labels);
  log(
    `fusion: weights n-gram ${choice.weights[0]} head ${choice.weights[1]} kNN ${choice.weights[2]}, member T ${choice.memberTemperatures!.map((t) => t.toFixed(3)).join('/')}, T ${choice.temperature} (out-of-fold macro-F1 ${(choice.macroF1 * 100).toFixed(2)}%)`,
  );

  const head = trainEmbeddingHead(
    o.rows.map((i) => o.vectors[i]!),
    yRows,
    C,
    { l2 },
  );
  const knn = KnnVoter.fromRows(
    o.rows.map((i) => o.vectors[i]!),
    yRows,
    C,
    { k },
  );
  const { version: _v, weights: _w, format: _f, formatVersion: _fv, ...ngInput } = ngram.header;
  const ngBytes = encodeArtifact(ngInput, ngram.weights).bytes;
  const labelCounts: Record<string, number> = {};
  for (const i of o.rows) labelCounts[ds.examples[i]!.label] = (labelCounts[ds.examples[i]!.label] ?? 0) + 1;
  const { bytes } = encodeFused(
    {
      name: o.name ?? `feedlog-classify-fused-${ds.format}`,
      labels: ds.labels,
      embedding: { model: o.embeddingModel, dims: o.vectors[o.rows[0]!]!.length },
      fusion: {
        weights: choice.weights,
        memberTemperatures: choice.memberTemperatures!,
        temperature: choice.temperature,
        members: ['ngram', 'head', 'knn'],
        chosenBy: `${folds.length}-fold out-of-fold predictions on the training rows${groups ? ', grouped by story' : ''}: member temperatures by log-loss, weights by macro-F1, temperature by log-loss`,
      },
      head: { l2, chosenFrom: [...l2Grid] },
      knn: { k, tau: DEFAULT_KNN.tau, smooth: DEFAULT_KNN.smooth, rows: o.rows.length },
      training: {
        data: `${ds.path.split('/').pop()} (${ds.format}, ${ds.examples.length} rows)`,
        trainedOnRows: o.rows.length,
        labelCounts,
        seed,
        ngramMethod: ngram.chosen.method,
      },
      metrics: { outOfFold: { macroF1: choice.macroF1, accuracy: choice.accuracy, logLoss: choice.logLoss } },
      createdAt: new Date().toISOString(),
    },
    ngBytes,
    head,
    knn,
  );
  return { model: decodeFused(bytes), bytes, choice, ngram, oof: { rows: o.rows, y: yRows, folds, members: oof } };
}
