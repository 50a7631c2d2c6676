/**
 * The embed stage process: clustered → embedded, exactly-once.
 *
 * Environment (besides KAFKA_BROKERS, SCHEMA_REGISTRY_URL, … of @feedlog/common):
 *   EMBEDDING_BASE_URL     OpenAI-compatible endpoint; default http://127.0.0.1:${EMBEDDER_PORT}/v1 (the local embedder)
 *   EMBEDDING_MODEL        model name; default all-MiniLM-L6-v2-int8
 *   EMBEDDING_API_KEY      bearer token (never logged)
 *   EMBEDDING_DIMENSIONS, EMBEDDING_MODEL_VERSION, EMBED_BATCH_SIZE, EMBED_LINGER_MS, EMBED_CONCURRENCY,
 *   EMBED_TIMEOUT_MS, EMBED_MAX_ATTEMPTS, EMBED_*_BACKOFF_MS, EMBED_MAX_RETRY_AFTER_MS, EMBED_MAX_CHARS  (see config.ts)
 *   STAGE_GENERATION       generation (consumer group feedlog.embed.g<N>, outputs tagged with it); default 1
 *   INPUT_GENERATION       embed only `clustered` records of this cluster generation (a replay sets it); default every record
 *   TOPIC_PREFIX           prefix of every topic name (isolated environments); default none
 *   METRICS_PORT           serve Prometheus /metrics (embedding_tokens_total{model} and the stage series)
 *   HEALTH_PORT            serve /healthz and /readyz
 *   OTEL_EXPORTER_OTLP_ENDPOINT  export spans over OTLP
 *
 * Run: `node --import tsx processors/embed/src/main.ts`
 */
import { inputGenerationFromEnv, onlyInputGeneration } from '@feedlog/runtime';
import { runStageProcess } from '@feedlog/telemetry';
import { APIConnectionError, APIError } from 'openai';
import { EmbeddingClient } from './client.ts';
import { describeSettings, embeddingSettingsFromEnv } from './config.ts';
import { embedStage } from './stage.ts';

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

  const stage = embedStage({
    settings,
    client: new EmbeddingClient(settings, { registry: telemetry.registry }),
    generation,
    prefix,
    config: { mode: 'exactly-once' },
    ...(telemetry.tracer ? { tracer: telemetry.tracer } : {}),
  });
  return onlyInputGeneration(stage, inputGenerationFromEnv(), (v) => v.story.run);
});
