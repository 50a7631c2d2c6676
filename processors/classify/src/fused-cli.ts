import { statSync } from 'node:fs';
import { type EmbeddingClient, embeddingText, openEmbedder } from '@feedlog/embed';
import type { Dataset, Example } from './data.ts';
import { textOf } from './data.ts';
import { saveFused } from './fused-artifact.ts';
import type { EmbedTexts, FusedClassifierModel } from './fused-model.ts';
import { trainFused } from './fused-train.ts';
import { argmax } from './fusion.ts';
import { evaluate, expectedCalibrationError, type Metrics } from './metrics.ts';
import { type Candidate, makeSplit } from './train.ts';

/** The embedder `train classify --embeddings` and `eval classify` use: the stages' client + cache. */
export async function openClassifyEmbedder(
  model: string | undefined,
  log: (line: string) => void,
): Promise<{ embed: EmbedTexts; model: string; close: () => Promise<void> }> {
  const e = await openEmbedder({ ...(model ? { model } : {}), log });
  log(`embedder: ${e.client.settings.baseUrl} model ${e.client.settings.model}, cache ${e.cache}`);
  return { embed: embedWith(e.client, log), model: e.client.settings.model, close: e.close };
}

/** Vectors through the client in chunks (the client batches and caches within a chunk). */
export function embedWith(client: EmbeddingClient, log: (line: string) => void = () => {}): EmbedTexts {
  return async (texts) => {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += 512) {
      const r = await client.embed(texts.slice(i, i + 512));
      for (const [j, e] of r.results.entries()) {
        if (e instanceof Error) throw new Error(`the embedder refused row ${i + j + 1}: ${e.message}`);
        out.push(e.vector);
      }
      if (texts.length > 512) log(`embedded ${Math.min(i + 512, texts.length)}/${texts.length}`);
    }
    return out;
  };
}

/** the stage's embedding text of a labelled row (so training vectors hit the stage's cache keys) */
export function rowEmbeddingText(e: Example, withSummary = true): string {
  return embeddingText({ title: e.title, summary: withSummary ? (e.summary ?? null) : null });
}

export interface FusedScore {
  full: Metrics;
  ece: number;
  titleOnly?: Metrics;
  /** the n-gram member alone, for comparison */
  ngram: { full: Metrics; ece: number; titleOnly?: Metrics };
}

/** Scores a fused model on `rows` (vectors given for title+summary; title-only ones embedded here). */
export async function scoreFused(
  model: FusedClassifierModel,
  ds: Dataset,
  rows: readonly number[],
  vectors: readonly Float32Array[],
  embed: EmbedTexts,
): Promise<FusedScore> {
  const index = new Map(model.labels.map((l, i) => [l, i]));
  const truth = rows.map((i) => index.get(ds.examples[i]!.label) ?? -1);
  const one = (texts: string[], vs: readonly Float32Array[]) => {
    const members = model.memberProbabilities(texts, vs);
    const fused = model.probabilitiesWithVectors(texts, vs);
    const m = (ps: Float64Array[]) => {
      const pred = ps.map((p) => argmax(p));
      return {
        metrics: evaluate(truth, pred, model.labels),
        ece: expectedCalibrationError(
          ps.map((p, j) => p[pred[j]!]!),
          pred.map((p, j) => p === truth[j]),
        ),
      };
    };
    return { fused: m(fused), ngram: m(members.map((x) => x[0]!)) };
  };
  const full = one(
    rows.map((i) => textOf(ds.examples[i]!)),
    rows.map((i) => vectors[i]!),
  );
  const hasSummary = rows.some((i) => ds.examples[i]!.summary);
  const title = hasSummary
    ? one(
        rows.map((i) => textOf(ds.examples[i]!, false)),
        await embed(rows.map((i) => rowEmbeddingText(ds.examples[i]!, false))),
      )
    : undefined;
  return {
    full: full.fused.metrics,
    ece: full.fused.ece,
    ...(title ? { titleOnly: title.fused.metrics } : {}),
    ngram: { full: full.ngram.metrics, ece: full.ngram.ece, ...(title ? { titleOnly: title.ngram.metrics } : {}) },
  };
}

export interface FusedTrainRun {
  artifact: string;
  bytes: number;
  model: FusedClassifierModel;
  split: { kind: string; train: number; test: number };
  holdout?: FusedScore;
  seconds: number;
}

/**
 * `train classify --embeddings`: embeds every row, trains the fused model on the training part
 * (everything it chooses, chosen there), scores the hold-out once, refits on every row (unless
 * `refit` is false) and writes the `.flcf` artifact.
 */
export async function trainFusedCommand(
  ds: Dataset,
  o: {
    out: string;
    embed: EmbedTexts;
    embeddingModel: string;
    holdout: number;
    seed: number;
    byGroup: boolean;
    refit: boolean;
    candidates: Candidate[];
    name?: string;
    log: (line: string) => void;
  },
): Promise<FusedTrainRun> {
  const t0 = performance.now();
  o.log(`embedding ${ds.examples.length} rows`);
  const vectors = await o.embed(ds.examples.map((e) => rowEmbeddingText(e)));
  const split = makeSplit(ds, o.holdout, o.seed, o.byGroup);
  const train = (rows: readonly number[]) =>
    trainFused(ds, {
      rows,
      vectors,
      embeddingModel: o.embeddingModel,
      seed: o.seed,
      byGroup: o.byGroup,
      candidates: o.candidates,
      ...(o.name ? { name: o.name } : {}),
      log: o.log,
    });
  let r = train(split.train);
  let holdout: FusedScore | undefined;
  if (split.test.length) {
    holdout = await scoreFused(r.model, ds, split.test, vectors, o.embed);
    o.log(
      `hold-out: acc ${(holdout.full.accuracy * 100).toFixed(2)}% macro-F1 ${(holdout.full.macroF1 * 100).toFixed(2)}% (n-gram member alone ${(holdout.ngram.full.accuracy * 100).toFixed(2)}%)`,
    );
    if (o.refit) r = train(ds.examples.map((_, i) => i));
  }
  saveFused(o.out, r.bytes);
  return {
    artifact: o.out,
    bytes: statSync(o.out).size,
    model: r.model,
    split: { kind: split.kind, train: split.train.length, test: split.test.length },
    ...(holdout ? { holdout } : {}),
    seconds: (performance.now() - t0) / 1000,
  };
}
