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
 *   TOPIC_PREFIX           prefix of every topic name (isolated environments); default none
 *   METRICS_PORT           serve Prometheus /metrics (embedding_tokens_total{model} and the stage series)
 *   HEALTH_PORT            serve /healthz and /readyz
 *   OTEL_EXPORTER_OTLP_ENDPOINT  export spans over OTLP
 *
 * Run: `node --import tsx processors/embed/src/main.ts`
 */
import { onShutdown, runStage, serveHealth, subscribe } from '@feedlog/runtime';
import { setupTelemetry } from '@feedlog/telemetry';
import { APIConnectionError, APIError } from 'openai';
import { EmbeddingClient } from './client.ts';
import { describeSettings, embeddingSettingsFromEnv } from './config.ts';
import { embedStage } from './stage.ts';

const log = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), stage: 'embed', event, ...fields })}\n`);

function intEnv(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number.parseInt(v, 10);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v} is not a non-negative integer`);
  return n;
}

async function main(): Promise<void> {
  const generation = intEnv('STAGE_GENERATION', 1);
  const settings = embeddingSettingsFromEnv();
  log('config', { generation, ...describeSettings(settings) });
  const telemetry = await setupTelemetry({ serviceName: 'feedlog-embed' });
  if (telemetry.metricsPort !== undefined) log('metrics', { port: telemetry.metricsPort, tracing: telemetry.tracing });
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
    prefix: process.env.TOPIC_PREFIX ?? '',
    config: { mode: 'exactly-once' },
    ...(telemetry.tracer ? { tracer: telemetry.tracer } : {}),
  });
  subscribe('lifecycle', (e) => log('lifecycle', { status: e.status, detail: e.detail }));
  subscribe('breaker', (e) => log('breaker', { breaker: e.breaker, state: e.state }));
  subscribe('error', (e) => log('error', { where: e.where, partition: e.partition, error: String(e.error) }));
  subscribe('dlq', (e) =>
    log('dlq', { partition: e.partition, offset: e.offset, error: e.errorClass, message: e.message }),
  );
  const running = await runStage(stage, { clientId: `feedlog-embed-g${generation}` });
  const healthPort = process.env.HEALTH_PORT;
  if (healthPort) await serveHealth(running.health, Number.parseInt(healthPort, 10));
  onShutdown(async () => {
    await running.stop();
    await telemetry.shutdown();
  });
  await running.ready();
  log('ready', { groupId: running.groupId, input: stage.input.topic, output: stage.output.topic });
  await running.done;
  await telemetry.shutdown();
}

main().catch((e: unknown) => {
  log('failed', { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.exit(1);
});
