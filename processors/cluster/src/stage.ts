import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { type EmbedBatchResult, type EmbedCallOptions, embeddingText } from '@feedlog/embed';
import {
  defineStage,
  PoisonRecordError,
  type RawRecord,
  type RecordResult,
  type Stage,
  type StageDefinitionInput,
  type StageTracer,
} from '@feedlog/runtime';
import { type ClassifiedHeadline, type ClusteredHeadline, type SerdeOptions, serdeFor } from '@feedlog/schemas';
import { declareFeedlog, topicNames } from '@feedlog/topics';
import { changelogPrefix, readChangelog } from './changelog.ts';
import { ChangelogOptionsError, type ClusterOptions, ClusterState, DEFAULT_OPTIONS, optionsKey } from './state.ts';

export { changelogPrefix };

export const CLUSTER_MODEL_NAME = 'feedlog-cluster-tfidf-centroid';

/** Header the classify stage sets to the item's event time (epoch ms); the merge orders by it. */
export const EVENT_TIME_HEADER = 'feedlog-event-time';

/** Version of the algorithm + a hash of its options: a changelog is only valid for the same value. */
export function clusterModelVersion(options: Partial<ClusterOptions> = {}): string {
  const o = { ...DEFAULT_OPTIONS, ...options };
  const h = createHash('sha256')
    .update(JSON.stringify(optionsKey(o)))
    .digest('hex')
    .slice(0, 10);
  return o.semanticWeight > 0 ? `2+${h}` : `1+${h}`;
}

/** Merge key of a record: its event-time header when it has one, else the Kafka timestamp. */
export function eventTime(r: RawRecord): number {
  const h = r.headers[EVENT_TIME_HEADER];
  const v = h ? Number(h.toString()) : Number.NaN;
  return Number.isFinite(v) ? v : Number(r.timestamp);
}

/**
 * The restore's options mismatch with what the operator can do about it: a generation's changelog
 * only restores under the options it was written with (other options would decide other stories).
 */
export function withRemedy(e: ChangelogOptionsError, generation: number): ChangelogOptionsError {
  const keep =
    e.semanticMismatch === 'written-lexical'
      ? 'start the stage with CLUSTER_SEMANTIC=0 (this generation clusters on words only: it was written before semantic clustering became the default, or with CLUSTER_SEMANTIC=0)'
      : e.semanticMismatch === 'written-semantic'
        ? 'start the stage without CLUSTER_SEMANTIC=0 (this generation clusters on meaning)'
        : 'start the stage with the options the generation was written with';
  const err = new ChangelogOptionsError(e.written, e.configured);
  err.message = `generation ${generation}: ${e.message}. To resume it, ${keep}; to cluster with the new options, replay it into a new generation: \`feedlog replay cluster\` (cluster, embed and index get a generation N+1 from the start of the log, which takes over at the flip)`;
  return err;
}

/** What the stage needs of an embedding client: `EmbeddingClient` (with its cache) fits. */
export interface HeadlineEmbedder {
  embed(texts: string[], opts?: EmbedCallOptions): Promise<Pick<EmbedBatchResult, 'results'>>;
  /** the model identity the vectors come from (part of the stage's model version) */
  readonly cacheModel: string;
}

/** Breaker name of the embedder dependency (as the embed stage's). */
export const EMBEDDER_BREAKER = 'embedder';

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
  /**
   * How long the partition merge waits for a partition whose records are not fetched yet before
   * going on without it (the only timing-dependent ordering decision). Default 10 s.
   */
  maxIdleMs?: number;
  /** prepare the next batch while the previous one commits (default true) */
  pipeline?: boolean;
  log?: (event: string, fields?: Record<string, unknown>) => void;
  /**
   * Asked for the vectors of each batch when `options.semanticWeight` > 0, with the text the embed
   * stage will embed (`embeddingText`), so through a shared cache the embed stage downstream finds
   * them. Required then.
   */
  embedder?: HeadlineEmbedder;
  /** characters of the embedded text (the embed stage's EMBED_MAX_CHARS, for equal cache keys) */
  embedMaxChars?: number;
  /**
   * Texts whose vectors may be asked for ahead, as their records are fetched (default 2,000; 0:
   * none): the embedder works on the next batches while this one is assigned and committed,
   * instead of idling between one batch's request and the next. What is asked ahead only spares
   * the transform a request; a failed or missing answer is asked again by the transform.
   */
  lookahead?: number;
}

/** The one ClusterState of the instance, replaced on every restore. */
export interface ClusterHolder {
  state: ClusterState;
  readonly options: Partial<ClusterOptions>;
  /** what the last restore read */
  lastRestore?: { entries: number; ms: number };
}

export interface ClusterStageParts {
  stage: Stage<ClassifiedHeadline, ClusteredHeadline>;
  holder: ClusterHolder;
  changelogTopic: string;
}

export const stageNameFor = (base: string, prefix: string): string =>
  prefix ? `${prefix.replace(/[^a-z0-9_.-]/gi, '-').replace(/^[^a-z]+/i, '')}${base}` : base;

/**
 * classified → clustered. The state is global, so the stage is a `merge` stage: one instance owns
 * every input partition and takes them in event-time order (then partition, offset), so the order
 * is a function of the log. The transform assigns each record a story through the one
 * `ClusterState` and sends the state's changes to the compacted changelog with `ctx.send`, in the
 * batch's transaction; `onAssigned` (after fencing, and after any failed batch) rebuilds the state
 * from the changelog. A record without a usable title is dead-lettered.
 */
export function clusterStage(opts: ClusterStageOptions = {}): ClusterStageParts {
  const prefix = opts.prefix ?? '';
  const generation = opts.generation ?? 1;
  const options = opts.options ?? {};
  const d = declareFeedlog({ prefix });
  const topic = (base: string) => `${prefix}${base}`;
  const dlq = d.stages.find((s) => s.name === 'cluster')?.deadLetterTopic ?? topic('cluster.dlq');
  const changelogTopic = topic(topicNames.clusterChangelog);
  const keyPrefix = changelogPrefix(generation);
  const serde = { ...opts.serde, prefix };
  const inputCodec = serdeFor('ClassifiedHeadline', topic(topicNames.classified), serde);
  const now = opts.now ?? Date.now;
  const log = opts.log ?? (() => {});
  const holder: ClusterHolder = { state: new ClusterState(options), options };
  const semantic = (options.semanticWeight ?? 0) > 0;
  const embedder = opts.embedder;
  if (semantic && !embedder) throw new RangeError('semanticWeight > 0 needs an embedder');
  // the vectors' model is part of the version: another model = another generation's changelog
  const version = clusterModelVersion(options) + (semantic && embedder ? `+${embedder.cacheModel}` : '');
  const model = { name: CLUSTER_MODEL_NAME, version };

  /** vectors asked for ahead (`lookahead`), by text; null: the answer was an error, ask again */
  const ahead = new Map<string, Promise<Float32Array | null>>();
  const maxAhead = semantic && embedder ? (opts.lookahead ?? 2_000) : 0;
  const textOf = (v: ClassifiedHeadline) =>
    embeddingText({ title: v.headline.title ?? '', summary: v.headline.summary ?? null }, opts.embedMaxChars);

  /** per partition, the last offset a transform has taken (its vectors are asked for there) */
  const taken = new Map<number, number>();
  const lookahead = (records: readonly RawRecord[]): void => {
    if (!embedder || ahead.size >= maxAhead) return;
    void (async () => {
      const found: { t: string; partition: number; offset: number }[] = [];
      for (const r of records) {
        const v = r.value ? await inputCodec.decode(r.value).catch(() => undefined) : undefined;
        const t = v ? textOf(v) : '';
        if (t) found.push({ t, partition: r.partition, offset: Number(r.offset) });
      }
      // no await from here on: texts another lookahead asked for meanwhile are not asked twice,
      // and records a transform took while these were decoded are left to it (asked once)
      const fresh = found.filter((f) => f.offset > (taken.get(f.partition) ?? -1)).map((f) => f.t);
      const texts = [...new Set(fresh)].filter((t) => !ahead.has(t)).slice(0, maxAhead - ahead.size);
      if (texts.length === 0) return;
      const answer = embedder.embed(texts).then(
        (res) => res.results.map((e) => (e instanceof Error ? null : e.vector)),
        () => texts.map(() => null),
      );
      for (const [j, t] of texts.entries())
        ahead.set(
          t,
          answer.then((v) => v[j] ?? null),
        );
    })().catch(() => {});
  };

  /**
   * Vectors of a batch (semantic mode). A text the endpoint refuses alone, or an empty one, gets
   * none: that record is clustered on its words (the same on a replay, which refuses it again).
   * An unreachable endpoint throws (RetriableError): the runtime abandons the batch and the state
   * is restored from the changelog, so no decision was made without the vectors it should have had.
   */
  const vectorsOf = async (
    batch: readonly { value: ClassifiedHeadline; partition?: number; offset?: string }[],
    callOpts: EmbedCallOptions,
  ) => {
    const out: (Float32Array | undefined)[] = new Array(batch.length);
    if (!semantic || !embedder) return out;
    const texts: string[] = [];
    const at: number[] = [];
    const early: { i: number; t: string; v: Promise<Float32Array | null> }[] = [];
    for (const r of batch) {
      if (r.partition === undefined || r.offset === undefined) continue;
      taken.set(r.partition, Math.max(taken.get(r.partition) ?? -1, Number(r.offset)));
    }
    batch.forEach((r, i) => {
      const t = textOf(r.value);
      if (!t) return;
      const v = ahead.get(t);
      if (v) {
        ahead.delete(t);
        early.push({ i, t, v });
      } else {
        texts.push(t);
        at.push(i);
      }
    });
    // full, and none of it for this batch: asked for records that will not come (a rebalance's)
    if (early.length === 0 && ahead.size >= maxAhead) ahead.clear();
    const ask = async (ts: string[], idx: number[]) => {
      if (ts.length === 0) return;
      const res = await embedder.embed(ts, callOpts);
      res.results.forEach((e, j) => {
        if (!(e instanceof Error)) out[idx[j]!] = e.vector;
      });
    };
    const asked = ask(texts, at);
    // what was asked ahead and failed is asked again here, with this batch's breaker and signal
    const again = { texts: [] as string[], at: [] as number[] };
    for (const e of early) {
      const v = await e.v;
      if (v) out[e.i] = v;
      else {
        again.texts.push(e.t);
        again.at.push(e.i);
      }
    }
    await Promise.all([asked, ask(again.texts, again.at)]);
    return out;
  };

  const assign = (
    v: ClassifiedHeadline,
    producedAt: number,
    vector: Float32Array | undefined,
  ): RecordResult<ClusteredHeadline> => {
    const title = v.headline.title?.trim() ?? '';
    if (!title) return new PoisonRecordError('empty title: nothing to cluster');
    const a = holder.state.assign({
      itemId: v.item_id,
      title,
      source: v.headline.source,
      publishedAt: v.headline.published_at ?? v.headline.ingested_at,
      category: v.classification.category,
      ...(vector ? { vector } : {}),
    });
    const run = { model_name: model.name, model_version: model.version, generation, produced_at: producedAt };
    return {
      value: { ...v, story: { story_id: a.storyId, similarity: a.isNew ? 1 : a.similarity, is_new: a.isNew, run } },
    };
  };

  const stage = defineStage<ClassifiedHeadline, ClusteredHeadline>({
    name: opts.name ?? stageNameFor('cluster', prefix),
    generation,
    model,
    input: {
      topic: topic(topicNames.classified),
      codec: inputCodec,
    },
    output: {
      topic: topic(topicNames.clustered),
      codec: serdeFor('ClusteredHeadline', topic(topicNames.clustered), serde),
    },
    dlq: { topic: dlq, codec: serdeFor('DeadLetter', dlq, serde) },
    merge: {
      orderBy: eventTime,
      ...(opts.maxIdleMs === undefined ? {} : { maxIdleMs: opts.maxIdleMs }),
      ...(opts.pipeline === undefined ? {} : { pipeline: opts.pipeline }),
      ...(maxAhead > 0 ? { lookahead } : {}),
    },
    ...(opts.config ? { config: opts.config } : {}),
    ...(opts.tracer ? { tracer: opts.tracer } : {}),
    async onAssigned({ kafka }) {
      // records fetched before are fetched again; what was asked ahead is asked again
      ahead.clear();
      taken.clear();
      if (!kafka) return; // the in-memory driver: start from an empty state
      const t0 = performance.now();
      const entries = await readChangelog(kafka, changelogTopic, generation);
      try {
        holder.state = ClusterState.restore(entries, options);
      } catch (e) {
        throw e instanceof ChangelogOptionsError ? withRemedy(e, generation) : e;
      }
      holder.lastRestore = { entries: entries.length, ms: performance.now() - t0 };
      log('restored', { entries: entries.length, ms: Math.round(holder.lastRestore.ms), ...holder.state.stats() });
    },
    async transform(batch, ctx): Promise<RecordResult<ClusteredHeadline>[]> {
      // before any assignment: if the embedder fails the batch is abandoned with the state untouched
      const vectors = semantic
        ? await vectorsOf(batch, { breaker: ctx.breaker(EMBEDDER_BREAKER), signal: ctx.signal })
        : [];
      const producedAt = now();
      // never throws: a failing record is that record's result, so the state's changes always reach the changelog
      const results = batch.map((r, i) => {
        try {
          return assign(r.value, producedAt, vectors[i]);
        } catch (e) {
          return e instanceof Error ? e : new Error(String(e));
        }
      });
      for (const e of holder.state.takeChangelog())
        ctx.send(changelogTopic, { key: keyPrefix + e.key, value: e.value === null ? null : Buffer.from(e.value) });
      return results;
    },
  });
  return { stage, holder, changelogTopic };
}
