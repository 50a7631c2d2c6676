import { join } from 'node:path';
import { loadConfig } from '@feedlog/common';
import { type EmbedBatchResult, type EmbedCallOptions, embeddingText } from '@feedlog/embed';
import {
  defineStage,
  PoisonRecordError,
  type RecordResult,
  type Stage,
  type StageDefinitionInput,
  type StageTracer,
} from '@feedlog/runtime';
import { type ClassifiedHeadline, type RawHeadline, type SerdeOptions, serdeFor } from '@feedlog/schemas';
import { declareFeedlog, topicNames } from '@feedlog/topics';
import { type ClassifyResult, classifyBatchFused, classifyText } from './batch.ts';
import { classifyCodecs } from './codecs.ts';
import { ensureDefaultModel } from './default-model.ts';
import { classifyEnv } from './env.ts';
import type { FusedClassifierModel } from './fused-model.ts';
import { type AnyClassifyModel, isFused, loadAnyClassifyModel } from './load-any.ts';
import type { ClassifierModel } from './model.ts';
import { classifiedOf } from './payload-headline.ts';
import { ClassifyPool, type PoolPredictions } from './pool.ts';

/** What the fused model needs of an embedding client: `EmbeddingClient` (with its cache) fits. */
export interface ClassifyEmbedder {
  embed(texts: string[], opts?: EmbedCallOptions): Promise<Pick<EmbedBatchResult, 'results'>>;
  readonly settings: { model: string; maxChars: number };
}

/** Breaker name of the embedder dependency (as the embed and cluster stages'). */
export const EMBEDDER_BREAKER = 'embedder';

/** Header with the item's event time (published_at, else ingested_at; epoch ms) on every classified record. */
export const EVENT_TIME_HEADER = 'feedlog-event-time';

export interface ClassifyStageOptions {
  /** the loaded model (see loadClassifyModel): an n-gram model or a fused one */
  model: AnyClassifyModel;
  /** the embedding client a fused model asks for vectors (the embed stage's client + cache) */
  embedder?: ClassifyEmbedder;
  /** stage generation: consumer group feedlog.classify.g<N>, outputs tagged with it; default 1 */
  generation?: number;
  /** topic name prefix (isolated environments, tests); default none */
  prefix?: string;
  /** stage name (consumer group feedlog.<name>.g<N>, transactional ids); default `classify`, `<prefix>classify` with a prefix */
  name?: string;
  /** Serde options (registry URL or client, autoRegister for tests) */
  serde?: Omit<SerdeOptions, 'prefix'>;
  config?: StageDefinitionInput<RawHeadline, ClassifiedHeadline>['config'];
  tracer?: StageTracer;
  /** clock for `produced_at` (tests); default Date.now */
  now?: () => number;
  /**
   * Worker threads that score an n-gram model off the consumer's thread (started on the first
   * batch, ended when the stage stops); 0: score on it. Default CLASSIFY_WORKERS. Unused by a fused model.
   */
  workers?: number;
}

/**
 * The model the stage runs: the artifact at `path` (e.g. from `feedlog train classify`), or the
 * default model trained from the bundled fixture (built into `<FEEDLOG_HOME>/models` on first use).
 */
export function loadClassifyModel(
  path: string | undefined = classifyEnv.parse().CLASSIFY_MODEL,
  log: (line: string) => void = () => {},
): AnyClassifyModel {
  if (path) return loadAnyClassifyModel(path);
  return ensureDefaultModel(join(loadConfig().home, 'models'), log);
}

/**
 * raw-headlines → classified. The transform scores the whole batch: an n-gram model on the
 * `workers` threads of a ClassifyPool or on the consumer's thread (the same predictions as
 * `classifyBatch`), a fused model after asking the embedder for the batch's vectors; a
 * record with nothing to classify (empty title and summary) is rejected with a PoisonRecordError
 * and dead-lettered to classify.dlq by the runtime while the rest of the batch goes on.
 * Every output copies the input and adds `classification { category, confidence, run }` where
 * run = model name + version + stage generation + produced-at.
 */
export function classifyStage(opts: ClassifyStageOptions): Stage<RawHeadline, ClassifiedHeadline> {
  const prefix = opts.prefix ?? '';
  const generation = opts.generation ?? 1;
  const d = declareFeedlog({ prefix });
  const name = (base: string) => `${prefix}${base}`;
  const dlq = d.stages.find((s) => s.name === 'classify')?.deadLetterTopic ?? name('classify.dlq');
  const serde = { ...opts.serde, prefix };
  const model = opts.model;
  const now = opts.now ?? Date.now;
  const embedder = opts.embedder;
  const workers = isFused(model) ? 0 : (opts.workers ?? classifyEnv.parse().CLASSIFY_WORKERS);
  let pool: ClassifyPool | undefined;
  if (isFused(model)) {
    if (!embedder)
      throw new RangeError(`model ${model.name} is fused: the classify stage needs an embedder (EMBEDDING_BASE_URL)`);
    if (embedder.settings.model !== model.embeddingModel)
      throw new RangeError(
        `model ${model.name} was trained on ${model.embeddingModel} vectors; the embedder is configured for ${embedder.settings.model} (set EMBEDDING_MODEL)`,
      );
  }
  /**
   * Results of a batch. Fused: the records' vectors through the embedding client (its cache is the
   * embed stage's, keyed by model + the same text, so downstream does not pay twice); a text the
   * endpoint refuses alone is dead-lettered, an unreachable endpoint throws (the runtime retries
   * or pauses: no record is classified without the vector it should have had).
   */
  const classifyFused = async (
    fused: FusedClassifierModel,
    heads: readonly RawHeadline['headline'][],
    callOpts: EmbedCallOptions,
  ): Promise<ClassifyResult[]> => {
    const e = embedder!;
    const texts: string[] = [];
    const at: number[] = [];
    heads.forEach((h, i) => {
      const t = embeddingText({ title: h.title ?? '', summary: h.summary ?? null }, e.settings.maxChars);
      if (t) {
        texts.push(t);
        at.push(i);
      }
    });
    const vectors: (Float32Array | Error | undefined)[] = new Array(heads.length);
    if (texts.length) {
      const res = await e.embed(texts, callOpts);
      res.results.forEach((r, j) => {
        vectors[at[j]!] = r instanceof Error ? r : r.vector;
      });
    }
    return classifyBatchFused(fused, heads, vectors);
  };
  // Avro through the registry; an output copies its input's bytes and encodes only the classification
  const codecs = classifyCodecs(
    serdeFor('RawHeadline', name(topicNames.raw), serde),
    serdeFor('ClassifiedHeadline', name(topicNames.classified), serde),
  );
  return defineStage<RawHeadline, ClassifiedHeadline>({
    name:
      opts.name ?? (prefix ? `${prefix.replace(/[^a-z0-9_.-]/gi, '-').replace(/^[^a-z]+/i, '')}classify` : 'classify'),
    generation,
    model: { name: model.name, version: model.version },
    input: { topic: name(topicNames.raw), codec: codecs.input },
    output: { topic: name(topicNames.classified), codec: codecs.output },
    dlq: { topic: dlq, codec: serdeFor('DeadLetter', dlq, serde) },
    ...(opts.config ? { config: opts.config } : {}),
    ...(opts.tracer ? { tracer: opts.tracer } : {}),
    transform(batch, ctx): RecordResult<ClassifiedHeadline>[] | Promise<RecordResult<ClassifiedHeadline>[]> {
      if (!isFused(model)) {
        // n-gram: on the pool's threads (a dead thread fails the batch, retriable), or on this one
        if (workers > 0) pool ??= new ClassifyPool(model, { size: workers });
        return ngram(model, batch, ctx, pool);
      }
      const heads = batch.map((r) => r.value.headline);
      return classifyFused(model, heads, { breaker: ctx.breaker(EMBEDDER_BREAKER), signal: ctx.signal }).then((res) =>
        toRecords(res, batch, ctx),
      );
    },
    async close() {
      const p = pool;
      pool = undefined;
      await p?.close();
    },
  });

  /** The `run` block every output of a batch shares (one object: the records only read it). */
  function runOf(ctx: { generation: number }): ClassifiedHeadline['classification']['run'] {
    return { model_name: model.name, model_version: model.version, generation: ctx.generation, produced_at: now() };
  }

  function output(
    v: RawHeadline,
    category: string,
    confidence: number,
    run: ClassifiedHeadline['classification']['run'],
  ): RecordResult<ClassifiedHeadline> {
    return {
      // event time for ordering downstream without decoding (the cluster stage merges partitions by it)
      headers: { [EVENT_TIME_HEADER]: String(v.headline.published_at ?? v.headline.ingested_at) },
      // the input's fields read through (a PayloadRawHeadline's are not decoded: its bytes are copied)
      value: classifiedOf(v, { category, confidence, run }),
    };
  }

  function toRecords(
    results: ClassifyResult[],
    batch: readonly { value: RawHeadline }[],
    ctx: { generation: number },
  ): RecordResult<ClassifiedHeadline>[] {
    const run = runOf(ctx);
    return results.map((res, i): RecordResult<ClassifiedHeadline> => {
      if (!res.ok) return new PoisonRecordError(res.error.message, { cause: res.error });
      return output((batch[i] as (typeof batch)[number]).value, res.category, res.confidence, run);
    });
  }

  /**
   * An n-gram batch: the texts (a record with none is poison), scored on the pool (`await`) or here
   * (`predictInto`), and the outputs built straight from the label indexes and confidences.
   */
  function ngram(
    m: ClassifierModel,
    batch: readonly { value: RawHeadline }[],
    ctx: { generation: number },
    p: ClassifyPool | undefined,
  ): RecordResult<ClassifiedHeadline>[] | Promise<RecordResult<ClassifiedHeadline>[]> {
    const out: RecordResult<ClassifiedHeadline>[] = new Array(batch.length);
    const texts: string[] = [];
    for (let i = 0; i < batch.length; i++) {
      const text = classifyText((batch[i] as (typeof batch)[number]).value.headline);
      if (typeof text === 'string') texts.push(text);
      else out[i] = new PoisonRecordError(text.message, { cause: text });
    }
    const finish = ({ category, confidence }: PoolPredictions) => {
      const run = runOf(ctx);
      const labels = m.labels;
      for (let i = 0, j = 0; i < batch.length; i++) {
        if (out[i] !== undefined) continue;
        out[i] = output((batch[i] as (typeof batch)[number]).value, labels[category[j]!]!, confidence[j]!, run);
        j++;
      }
      return out;
    };
    return p ? p.predict(texts).then(finish) : finish(m.predictBatch(texts));
  }
}
