import { createHash } from 'node:crypto';
import {
  defineStage,
  PoisonRecordError,
  type RecordResult,
  type Stage,
  type StageDefinitionInput,
  type StageTracer,
} from '@feedlog/runtime';
import { type ClassifiedHeadline, type ClusteredHeadline, type SerdeOptions, serdeFor } from '@feedlog/schemas';
import { declareFeedlog, topicNames } from '@feedlog/topics';
import { type ClusterOptions, ClusterState, DEFAULT_OPTIONS } from './state.ts';

export const CLUSTER_MODEL_NAME = 'feedlog-cluster-tfidf-centroid';

/** Version of the algorithm + a hash of its options: a changelog is only valid for the same value. */
export function clusterModelVersion(options: Partial<ClusterOptions> = {}): string {
  const o = { ...DEFAULT_OPTIONS, ...options };
  const h = createHash('sha256')
    .update(
      JSON.stringify([o.windowMs, o.maxStoryAgeMs, o.threshold, o.seedThreshold, o.bigrams, o.idf, o.useCategory]),
    )
    .digest('hex')
    .slice(0, 10);
  return `1+${h}`;
}

/** Changelog keys of one generation: `g<N>/<state key>` (generations share the compacted topic). */
export const changelogPrefix = (generation: number): string => `g${generation}/`;

export interface ClusterStageOptions {
  generation?: number;
  /** topic name prefix (isolated environments, tests) */
  prefix?: string;
  /** stage name (consumer group feedlog.<name>.g<N>); default `cluster`, or `<prefix>cluster` with a prefix */
  name?: string;
  serde?: Omit<SerdeOptions, 'prefix'>;
  /** ClusterState options; changing them needs a new generation (the changelog refuses other options) */
  options?: Partial<ClusterOptions>;
  config?: StageDefinitionInput<ClassifiedHeadline, ClusteredHeadline>['config'];
  tracer?: StageTracer;
  now?: () => number;
}

/** The mutable part the Kafka loop owns: the state (its `takeChangelog` after each batch goes in the batch's transaction). */
export interface ClusterHolder {
  state: ClusterState;
  readonly options: Partial<ClusterOptions>;
}

export interface ClusterStageParts {
  stage: Stage<ClassifiedHeadline, ClusteredHeadline>;
  holder: ClusterHolder;
  changelogTopic: string;
}

export const stageNameFor = (base: string, prefix: string): string =>
  prefix ? `${prefix.replace(/[^a-z0-9_.-]/gi, '-').replace(/^[^a-z]+/i, '')}${base}` : base;

/**
 * classified → clustered. The transform assigns each record a story through the one
 * `ClusterState` in `holder`, in batch order; the loop takes the state's changelog after the
 * batch and writes it to the changelog topic in the same transaction as the outputs
 * (see run-cluster.ts). A record without a usable title is dead-lettered.
 */
export function clusterStage(opts: ClusterStageOptions = {}): ClusterStageParts {
  const prefix = opts.prefix ?? '';
  const generation = opts.generation ?? 1;
  const options = opts.options ?? {};
  const d = declareFeedlog({ prefix });
  const topic = (base: string) => `${prefix}${base}`;
  const dlq = d.stages.find((s) => s.name === 'cluster')?.deadLetterTopic ?? topic('cluster.dlq');
  const serde = { ...opts.serde, prefix };
  const now = opts.now ?? Date.now;
  const holder: ClusterHolder = { state: new ClusterState(options), options };
  const model = { name: CLUSTER_MODEL_NAME, version: clusterModelVersion(options) };
  const stage = defineStage<ClassifiedHeadline, ClusteredHeadline>({
    name: opts.name ?? stageNameFor('cluster', prefix),
    generation,
    model,
    input: {
      topic: topic(topicNames.classified),
      codec: serdeFor('ClassifiedHeadline', topic(topicNames.classified), serde),
    },
    output: {
      topic: topic(topicNames.clustered),
      codec: serdeFor('ClusteredHeadline', topic(topicNames.clustered), serde),
    },
    dlq: { topic: dlq, codec: serdeFor('DeadLetter', dlq, serde) },
    ...(opts.config ? { config: opts.config } : {}),
    ...(opts.tracer ? { tracer: opts.tracer } : {}),
    transform(batch, ctx): RecordResult<ClusteredHeadline>[] {
      const producedAt = now();
      return batch.map((r): RecordResult<ClusteredHeadline> => {
        const v = r.value;
        const title = v.headline.title?.trim() ?? '';
        if (!title) return new PoisonRecordError('empty title: nothing to cluster');
        const publishedAt = v.headline.published_at ?? v.headline.ingested_at;
        const a = holder.state.assign({
          itemId: v.item_id,
          title,
          source: v.headline.source,
          publishedAt,
          category: v.classification.category,
        });
        return {
          value: {
            ...v,
            story: {
              story_id: a.storyId,
              similarity: a.isNew ? 1 : a.similarity,
              is_new: a.isNew,
              run: {
                model_name: ctx.model.name,
                model_version: ctx.model.version,
                generation,
                produced_at: producedAt,
              },
            },
          },
        };
      });
    },
  });
  return { stage, holder, changelogTopic: topic(topicNames.clusterChangelog) };
}
