import { join } from 'node:path';
import { loadConfig } from '@feedlog/common';
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
import { classifyBatch } from './batch.ts';
import { ensureDefaultModel } from './default-model.ts';
import { classifyEnv } from './env.ts';
import { type ClassifierModel, loadModel } from './model.ts';

/** Header with the item's event time (published_at, else ingested_at; epoch ms) on every classified record. */
export const EVENT_TIME_HEADER = 'feedlog-event-time';

export interface ClassifyStageOptions {
  /** the loaded model (see loadClassifyModel) */
  model: ClassifierModel;
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
}

/**
 * The model the stage runs: the artifact at `path` (e.g. from `feedlog train classify`), or the
 * default model trained from the bundled fixture (built into `<FEEDLOG_HOME>/models` on first use).
 */
export function loadClassifyModel(
  path: string | undefined = classifyEnv.parse().CLASSIFY_MODEL,
  log: (line: string) => void = () => {},
): ClassifierModel {
  if (path) return loadModel(path);
  return ensureDefaultModel(join(loadConfig().home, 'models'), log);
}

/**
 * raw-headlines → classified. The transform is the pure `classifyBatch` over the whole batch; a
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
  return defineStage<RawHeadline, ClassifiedHeadline>({
    name:
      opts.name ?? (prefix ? `${prefix.replace(/[^a-z0-9_.-]/gi, '-').replace(/^[^a-z]+/i, '')}classify` : 'classify'),
    generation,
    model: { name: model.name, version: model.version },
    input: { topic: name(topicNames.raw), codec: serdeFor('RawHeadline', name(topicNames.raw), serde) },
    output: {
      topic: name(topicNames.classified),
      codec: serdeFor('ClassifiedHeadline', name(topicNames.classified), serde),
    },
    dlq: { topic: dlq, codec: serdeFor('DeadLetter', dlq, serde) },
    ...(opts.config ? { config: opts.config } : {}),
    ...(opts.tracer ? { tracer: opts.tracer } : {}),
    transform(batch, ctx): RecordResult<ClassifiedHeadline>[] {
      const results = classifyBatch(
        model,
        batch.map((r) => r.value.headline),
      );
      const producedAt = now();
      return results.map((res, i): RecordResult<ClassifiedHeadline> => {
        if (!res.ok) return new PoisonRecordError(res.error.message, { cause: res.error });
        const v = (batch[i] as (typeof batch)[number]).value;
        return {
          // event time for ordering downstream without decoding (the cluster stage merges partitions by it)
          headers: { [EVENT_TIME_HEADER]: String(v.headline.published_at ?? v.headline.ingested_at) },
          value: {
            item_id: v.item_id,
            job_id: v.job_id,
            headline: v.headline,
            classification: {
              category: res.category,
              confidence: res.confidence,
              run: {
                model_name: res.modelName,
                model_version: res.modelVersion,
                generation: ctx.generation,
                produced_at: producedAt,
              },
            },
          },
        };
      });
    },
  });
}
