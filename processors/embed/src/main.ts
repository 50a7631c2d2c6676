/**
 * The embed stage process: clustered → embedded, exactly-once.
 *
 * Environment (besides KAFKA_BROKERS, SCHEMA_REGISTRY_URL, … of @feedlog/common):
 *   EMBEDDING_BASE_URL     OpenAI-compatible endpoint; default http://127.0.0.1:${EMBEDDER_PORT}/v1 (the local embedder)
 *   EMBEDDING_MODEL        model name; default all-MiniLM-L6-v2-int8
 *   EMBEDDING_API_KEY      bearer token (never logged)
 *   EMBEDDING_DIMENSIONS, EMBEDDING_MODEL_VERSION, EMBED_BATCH_SIZE, EMBED_LINGER_MS, EMBED_CONCURRENCY,
 *   EMBED_TIMEOUT_MS, EMBED_MAX_ATTEMPTS, EMBED_*_BACKOFF_MS, EMBED_MAX_RETRY_AFTER_MS, EMBED_MAX_CHARS  (see config.ts)
 *   EMBED_CACHE            postgres (embedding_cache table on DATABASE_URL; default) | off
 *   EMBED_CACHE_MAX_ROWS   bound of that table (default 1,000,000; least recently used evicted)
 *   STAGE_GENERATION       generation (consumer group feedlog.embed.g<N>, outputs tagged with it); default 1
 *   INPUT_GENERATION       embed only `clustered` records of this cluster generation (a replay sets it); default every record
 *   FEEDLOG_TOPIC_PREFIX   prefix of every topic name (isolated environments); default none
 *   METRICS_PORT           serve Prometheus /metrics (embedding_tokens_total{model} and the stage series)
 *   STAGE_HEALTH_PORT      serve /healthz and /readyz
 *   OTEL_EXPORTER_OTLP_ENDPOINT  export spans over OTLP
 *
 * Run: `node --import tsx processors/embed/src/main.ts`
 */
import { loadConfig } from '@feedlog/common';
import { inputGenerationFromEnv, onlyInputGeneration } from '@feedlog/runtime';
import { type ProcessLog, runStageProcess } from '@feedlog/telemetry';
import { APIConnectionError, APIError } from 'openai';
import pg from 'pg';
import type { EmbeddingCache } from './cache.ts';
import { EmbeddingClient } from './client.ts';
import { describeSettings, embeddingSettingsFromEnv } from './config.ts';
import { PgEmbeddingCache } from './pg-cache.ts';
import { embedStage } from './stage.ts';

/** The PostgreSQL cache when configured and migrated; otherwise none, said in the log (the stage runs either way). */
async function openCache(
  settings: ReturnType<typeof embeddingSettingsFromEnv>,
  log: ProcessLog,
): Promise<EmbeddingCache | undefined> {
  if (settings.cache === 'off') return undefined;
  // a stuck database must not stall batches: a cache call gives up after 5 s and is bypassed
  const pool = new pg.Pool({
    connectionString: loadConfig().postgres.url,
    max: 2,
    connectionTimeoutMillis: 5_000,
    query_timeout: 5_000,
    statement_timeout: 5_000,
  });
  pool.on('error', (e) => log('embedding cache connection error', { error: e.message }));
  const cache = new PgEmbeddingCache(pool, { maxRows: settings.cacheMaxRows });
  try {
    if (!(await cache.available())) {
      log('embedding cache off: table embedding_cache missing (run `feedlog migrate`)');
      await pool.end();
      return undefined;
    }
  } catch (e) {
    log('embedding cache off: PostgreSQL unreachable at start', { error: String((e as Error).message) });
    await pool.end();
    return undefined;
  }
  // not ended on shutdown: another onShutdown handler would exit before the stage's own graceful
  // stop finished; the connections close with the process
  log('embedding cache', { store: 'postgres', maxRows: cache.maxRows });
  return cache;
}

runStageProcess('embed', async ({ telemetry, generation, prefix, log }) => {
  const settings = embeddingSettingsFromEnv();
  log('config', { generation, ...describeSettings(settings) });
  const client = new EmbeddingClient({ ...settings, maxAttempts: 1 }, { registry: telemetry.registry });

  // Fail fast on a wrong model, key or URL path; an endpoint that is merely down is the breaker's business.
  try {
    const probe = await client.embed(['feedlog'], {});
    const refused = probe.results[0];
    if (refused instanceof Error) {
      log('failed', { error: `the endpoint refused a one-word input: ${refused.message}` });
      process.exit(2);
    }
    log('endpoint', { model: settings.model, served: probe.servedModel, dimensions: client.dimensions });
  } catch (e) {
    const cause = (e as Error).cause ?? e;
    if (
      cause instanceof APIError &&
      !(cause instanceof APIConnectionError) &&
      [400, 401, 403, 404].includes(cause.status ?? 0)
    ) {
      log('failed', { error: `the endpoint refused the configuration: ${(cause as Error).message}` });
      process.exit(2);
    }
    log('endpoint unavailable at start; the stage waits on its breaker', { error: String((e as Error).message) });
  }

  const cache = await openCache(settings, log);
  const stage = embedStage({
    settings,
    client: new EmbeddingClient(settings, { registry: telemetry.registry, ...(cache ? { cache } : {}) }),
    generation,
    prefix,
    config: { mode: 'exactly-once' },
    ...(telemetry.tracer ? { tracer: telemetry.tracer } : {}),
  });
  // generations share the topics: a replayed generation reads only its upstream generation's records
  return onlyInputGeneration(stage, inputGenerationFromEnv(), (v) => v.story.run);
});
