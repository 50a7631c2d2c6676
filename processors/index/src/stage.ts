import {
  defineStage,
  type Emit,
  PoisonRecordError,
  type RecordResult,
  RetriableError,
  type Stage,
  type StageContext,
  type StageDefinitionInput,
  type StageRecord,
} from '@feedlog/runtime';
import {
  bytesToVector,
  type EmbeddedHeadline,
  type IndexedHeadline,
  type SerdeOptions,
  serdeFor,
} from '@feedlog/schemas';
import { dlqName, topicNames } from '@feedlog/topics';
import { collectionName, type HeadlinePayload, IndexUsageError, type Metric, type VectorIndex } from './types.ts';

/**
 * A retraction travels on the `embedded` topic as an ordinary EmbeddedHeadline with this header
 * (`feedlog-op: retract`): the stage deletes the item from the index and forwards the header on
 * its `indexed` output so the materializer can mark the row. (The runtime dead-letters null-value
 * tombstones on stage inputs, so a tombstone cannot carry a retraction through it.)
 */
export const OP_HEADER = 'feedlog-op';
export const RETRACT = 'retract';

export const BREAKER_NAME = 'vector-store';

export function payloadOf(v: EmbeddedHeadline): HeadlinePayload {
  return {
    title: v.headline.title,
    url: v.headline.url,
    source: v.headline.source,
    category: v.classification.category,
    story_id: v.story.story_id,
    published_at: v.headline.published_at,
  };
}

export interface IndexStageOptions {
  index: VectorIndex;
  /** the collection generation written to (`headlines_g<N>`), also the stage generation */
  generation: number;
  metric?: Metric;
  /** topic-name prefix (tests) */
  prefix?: string;
  serde?: SerdeOptions;
  /** name/version reported in IndexEntry.run (default: the backend) */
  model?: { name: string; version: string };
  config?: StageDefinitionInput<EmbeddedHeadline, IndexedHeadline>['config'];
}

type Op = { kind: 'upsert' | 'delete'; at: number[] };

/**
 * The index stage: embedded → indexed. Writes each record's vector and payload to the vector index
 * (generation N) and emits an IndexedHeadline once the store acknowledged the write.
 *
 * Delivery: exactly-once on `indexed`, like every stage on the shared runtime: the outputs and the
 * input offsets of a batch are one Kafka transaction per input partition, and whoever is assigned
 * the partition next fences the previous owner's producer. The store write is a side effect
 * outside Kafka, so no transaction covers it; it happens in `transform`, before the commit, and
 * every store operation is idempotent by item id: an upsert replaces the point with the same id
 * (the embedded index keys on the item id; Qdrant on UUID v5 of it), a delete of an absent item
 * is a no-op. A batch written to the store and then not committed (SIGKILL, a fenced zombie after
 * a rebalance, a failed commit) is processed again from the committed offset: the store ends as
 * one write would leave it, and `indexed` holds the batch once (the aborted transaction is never
 * visible under read_committed). At-least-once here once wrote a revoked batch to `indexed` a
 * second time after every rebalance or lost group membership (issue 15's chaos suite).
 *
 * Failures: the store is called through the runtime's circuit breaker; a store failure is a
 * RetriableError (retried with backoff), and once the breaker opens the runtime pauses the
 * partitions (BreakerOpenError) instead of dead-lettering records for a store outage. A record
 * that cannot be indexed (vector bytes not 4 × dimensions, dimensions unlike the collection's) is
 * poison: dead-lettered alone.
 */
export function indexStage(opts: IndexStageOptions): Stage<EmbeddedHeadline, IndexedHeadline> {
  const prefix = opts.prefix ?? '';
  const input = `${prefix}${topicNames.embedded}`;
  const output = `${prefix}${topicNames.indexed}`;
  const dlq = `${prefix}${dlqName('index')}`;
  const metric = opts.metric ?? 'cosine';
  const collection = collectionName(opts.generation);
  const model = opts.model ?? { name: `${opts.index.backend}-index`, version: '1' };
  let ensuredDims: number | undefined;

  const store = async <T>(ctx: StageContext, what: string, fn: () => Promise<T>): Promise<T> =>
    ctx.breaker(BREAKER_NAME).run(async () => {
      try {
        return await fn();
      } catch (e) {
        if (e instanceof IndexUsageError) throw e;
        throw new RetriableError(`vector store ${what} failed: ${(e as Error)?.message ?? e}`, { cause: e });
      }
    });

  return defineStage<EmbeddedHeadline, IndexedHeadline>({
    // like classify/embed: a prefixed (test) deployment gets groups of its own
    name: prefix ? `${prefix.replace(/[^a-z0-9_.-]/gi, '-').replace(/^[^a-z]+/i, '')}index` : 'index',
    generation: opts.generation,
    model,
    input: { topic: input, codec: serdeFor('EmbeddedHeadline', input, { prefix, ...opts.serde }) },
    output: { topic: output, codec: serdeFor('IndexedHeadline', output, { prefix, ...opts.serde }) },
    dlq: { topic: dlq, codec: serdeFor('DeadLetter', dlq, { prefix, ...opts.serde }) },
    config: {
      // `indexed` + offsets in one transaction; the store write before it is idempotent (see above)
      mode: 'exactly-once',
      batch: { maxRecords: 256, lingerMs: 50 },
      // the breaker must open before a record runs out of attempts: 3 failures open it, 10 attempts
      breaker: { failureThreshold: 3, halfOpenAfterMs: 2_000 },
      retry: { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 5_000 },
      ...opts.config,
    },
    async transform(batch: StageRecord<EmbeddedHeadline>[], ctx): Promise<RecordResult<IndexedHeadline>[]> {
      const results: RecordResult<IndexedHeadline>[] = new Array(batch.length).fill(null);
      const vectors: (Float32Array | undefined)[] = new Array(batch.length);
      const retract = batch.map((r) => r.headers[OP_HEADER]?.toString() === RETRACT);
      const ops: Op[] = [];
      for (const [i, r] of batch.entries()) {
        if (!retract[i]) {
          const e = r.value.embedding;
          try {
            vectors[i] = bytesToVector(e.vector, e.dimensions);
          } catch (err) {
            results[i] = new PoisonRecordError(`item ${r.value.item_id}: ${(err as Error).message}`);
            continue;
          }
          if (ensuredDims !== undefined && e.dimensions !== ensuredDims) {
            results[i] = new PoisonRecordError(
              `item ${r.value.item_id} has ${e.dimensions} dimensions, ${collection} holds ${ensuredDims}`,
            );
            continue;
          }
          if (ensuredDims === undefined) {
            const dims = e.dimensions;
            await store(ctx, 'ensureGeneration', () => opts.index.ensureGeneration(opts.generation, dims, metric));
            ensuredDims = dims;
          }
        }
        // consecutive records of one kind go to the store together; order across kinds is kept
        const kind = retract[i] ? 'delete' : 'upsert';
        const last = ops[ops.length - 1];
        if (last?.kind === kind) last.at.push(i);
        else ops.push({ kind, at: [i] });
      }
      const indexedAt = new Map<number, number>();
      for (const op of ops) {
        if (op.kind === 'upsert') {
          const points = op.at.map((i) => ({
            itemId: batch[i]!.value.item_id,
            vector: vectors[i]!,
            payload: payloadOf(batch[i]!.value),
          }));
          await store(ctx, 'upsert', () => opts.index.upsert(opts.generation, points));
        } else {
          const ids = op.at.map((i) => batch[i]!.value.item_id);
          await store(ctx, 'delete', () => opts.index.delete(opts.generation, ids));
        }
        const now = Date.now();
        for (const i of op.at) indexedAt.set(i, now);
      }
      for (const [i, r] of batch.entries()) {
        const at = indexedAt.get(i);
        if (at === undefined) continue;
        const v = r.value;
        const out: Emit<IndexedHeadline> = {
          value: {
            item_id: v.item_id,
            job_id: v.job_id,
            headline: v.headline,
            classification: v.classification,
            story: v.story,
            embedding: { dimensions: v.embedding.dimensions, run: v.embedding.run },
            index: {
              collection,
              indexed_at: at,
              run: {
                model_name: model.name,
                model_version: model.version,
                generation: opts.generation,
                produced_at: at,
              },
            },
          },
          ...(retract[i] ? { headers: { [OP_HEADER]: RETRACT } } : {}),
        };
        results[i] = out;
      }
      return results;
    },
  });
}
