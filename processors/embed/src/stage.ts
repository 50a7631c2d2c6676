import {
  defineStage,
  PoisonRecordError,
  type RecordResult,
  type Stage,
  type StageDefinitionInput,
  type StageTracer,
} from '@feedlog/runtime';
import {
  type ClusteredHeadline,
  type EmbeddedHeadline,
  type SerdeOptions,
  serdeFor,
  vectorToBytes,
} from '@feedlog/schemas';
import { dlqName, topicNames } from '@feedlog/topics';
import type { Registry } from 'prom-client';
import type { EmbeddingCache } from './cache.ts';
import { EmbeddingClient } from './client.ts';
import type { EmbeddingSettings } from './config.ts';
import { embeddingText } from './text.ts';

/** The runtime breaker the stage calls the endpoint through (see `health().breakers`). */
export const BREAKER_NAME = 'embedder';
/** Forwarded from input to output unchanged (a retraction, `feedlog-op: retract`, reaches the index stage). */
export const FORWARDED_HEADERS = ['feedlog-op'] as const;

export interface EmbedStageOptions {
  settings: EmbeddingSettings;
  /** a client to share (bench, tests); default: one built from `settings` (and `cache`) */
  client?: EmbeddingClient;
  /** embeddings kept across runs (ignored when `client` is given: the client holds its cache) */
  cache?: EmbeddingCache;
  /** stage generation: consumer group feedlog.embed.g<N>, outputs tagged with it; default 1 */
  generation?: number;
  /** topic-name prefix (isolated environments, tests); default none */
  prefix?: string;
  /** stage name; default `embed`, `<prefix>embed` with a prefix */
  name?: string;
  serde?: Omit<SerdeOptions, 'prefix'>;
  config?: StageDefinitionInput<ClusteredHeadline, EmbeddedHeadline>['config'];
  tracer?: StageTracer;
  /** where `embedding_tokens_total` & co. are registered; default prom-client's global registry */
  registry?: Registry;
  /** clock for `produced_at` (tests) */
  now?: () => number;
}

/**
 * clustered → embedded. For each record the text `embeddingText(headline)` (title, then summary,
 * normalised and capped the same way every time) is embedded by the OpenAI-compatible endpoint in
 * `settings`; the output copies the input and adds `embedding { vector (f32le bytes), dimensions,
 * normalized, run { model_name, model_version, generation, produced_at } }`.
 *
 * Delivery: exactly-once (the runtime default): embedding is a pure function of the input, so a
 * re-run after a crash recomputes the same vectors, and the transaction that commits the input
 * offsets also commits the outputs, so none is duplicated.
 *
 * Batching: the runtime hands over up to `batchSize × concurrency` records of a partition, or what
 * arrived within `lingerMs`; the client sends them as requests of ≤ `batchSize` texts with at most
 * `concurrency` requests in flight over all partitions.
 *
 * Cache: with an EmbeddingCache (the process uses PostgreSQL's `embedding_cache`), a text already
 * embedded by this model (name, version, dimensions) in any run or process is not sent again: a
 * replay whose model did not change re-embeds nothing; a new model misses and fills it.
 *
 * Failures: every request attempt goes through the runtime breaker `embedder`. An endpoint that is
 * down (refused connections, 5xx, timeouts) opens it after `breaker.failureThreshold` attempts in a
 * row; the transform then throws BreakerOpenError and the runtime pauses the partition until the
 * half-open trial, so an outage dead-letters nothing and the stage resumes by itself. Only a text
 * the endpoint refuses on its own (400/413/422 about the input), or an empty one, is dead-lettered.
 */
export function embedStage(opts: EmbedStageOptions): Stage<ClusteredHeadline, EmbeddedHeadline> {
  const prefix = opts.prefix ?? '';
  const s = opts.settings;
  const client =
    opts.client ??
    new EmbeddingClient(s, {
      ...(opts.registry ? { registry: opts.registry } : {}),
      ...(opts.cache ? { cache: opts.cache } : {}),
    });
  const now = opts.now ?? Date.now;
  const input = `${prefix}${topicNames.clustered}`;
  const output = `${prefix}${topicNames.embedded}`;
  const dlq = `${prefix}${dlqName('embed')}`;
  const serde = { ...opts.serde, prefix };
  return defineStage<ClusteredHeadline, EmbeddedHeadline>({
    name: opts.name ?? (prefix ? `${prefix.replace(/[^a-z0-9_.-]/gi, '-').replace(/^[^a-z]+/i, '')}embed` : 'embed'),
    generation: opts.generation ?? 1,
    model: { name: s.model, version: s.modelVersion ?? 'endpoint' },
    input: { topic: input, codec: serdeFor('ClusteredHeadline', input, serde) },
    output: { topic: output, codec: serdeFor('EmbeddedHeadline', output, serde) },
    dlq: { topic: dlq, codec: serdeFor('DeadLetter', dlq, serde) },
    config: {
      mode: 'exactly-once',
      batch: { maxRecords: s.batchSize * s.concurrency, lingerMs: s.lingerMs },
      // the breaker must open well before the client gives up on a request (maxAttempts, default 6)
      breaker: { failureThreshold: 3, halfOpenAfterMs: 2_000 },
      ...opts.config,
    },
    ...(opts.tracer ? { tracer: opts.tracer } : {}),
    async transform(batch, ctx): Promise<RecordResult<EmbeddedHeadline>[]> {
      const results: RecordResult<EmbeddedHeadline>[] = new Array(batch.length).fill(null);
      const texts: string[] = [];
      const at: number[] = [];
      for (const [i, r] of batch.entries()) {
        const text = embeddingText(r.value.headline, s.maxChars);
        if (text === '') results[i] = new PoisonRecordError(`item ${r.value.item_id}: no title or summary to embed`);
        else {
          texts.push(text);
          at.push(i);
        }
      }
      if (texts.length === 0) return results;
      // throws BreakerOpenError (partition paused, batch retried later) or RetriableError
      const res = await client.embed(texts, { breaker: ctx.breaker(BREAKER_NAME), signal: ctx.signal });
      const producedAt = now();
      const version = s.modelVersion ?? (res.servedModel || s.model);
      for (const [j, i] of at.entries()) {
        const e = res.results[j];
        const r = batch[i]!;
        if (!e || e instanceof Error) {
          results[i] = e ?? new PoisonRecordError('no embedding returned');
          continue;
        }
        const headers: Record<string, Buffer> = {};
        for (const h of FORWARDED_HEADERS) {
          const v = r.headers[h];
          if (v !== undefined) headers[h] = v;
        }
        const v = r.value;
        results[i] = {
          ...(Object.keys(headers).length ? { headers } : {}),
          value: {
            item_id: v.item_id,
            job_id: v.job_id,
            headline: v.headline,
            classification: v.classification,
            story: v.story,
            embedding: {
              vector: vectorToBytes(e.vector),
              dimensions: e.vector.length,
              normalized: e.normalized,
              run: { model_name: s.model, model_version: version, generation: ctx.generation, produced_at: producedAt },
            },
          },
        };
      }
      return results;
    },
  });
}
