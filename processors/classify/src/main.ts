/**
 * The classify stage process: raw-headlines → classified, exactly-once.
 *
 * Environment (besides KAFKA_BROKERS, SCHEMA_REGISTRY_URL, … of @feedlog/common):
 *   STAGE_GENERATION  generation (consumer group feedlog.classify.g<N>, outputs tagged with it); default 1
 *   CLASSIFY_MODEL    model artifact path (`feedlog train classify --out …`); default: the fixture-trained model
 *   TOPIC_PREFIX      prefix of every topic name (isolated environments); default none
 *   METRICS_PORT      serve Prometheus /metrics on this port; none when unset
 *   HEALTH_PORT       serve /healthz and /readyz on this port; none when unset
 *   OTEL_EXPORTER_OTLP_ENDPOINT  export spans over OTLP; no span export when unset
 *
 * Run: `node --import tsx processors/classify/src/main.ts`
 */
import { onShutdown, runStage, serveHealth, subscribe } from '@feedlog/runtime';
import { setupTelemetry } from '@feedlog/telemetry';
import { classifyStage, loadClassifyModel } from './stage.ts';

const log = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), stage: 'classify', event, ...fields })}\n`);

function intEnv(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number.parseInt(v, 10);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v} is not a non-negative integer`);
  return n;
}

async function main(): Promise<void> {
  const generation = intEnv('STAGE_GENERATION', 1);
  const model = loadClassifyModel(process.env.CLASSIFY_MODEL || undefined, (line) => log('model', { line }));
  log('model loaded', { name: model.name, version: model.version, generation });
  const telemetry = await setupTelemetry({ serviceName: 'feedlog-classify' });
  if (telemetry.metricsPort !== undefined) log('metrics', { port: telemetry.metricsPort, tracing: telemetry.tracing });
  const stage = classifyStage({
    model,
    generation,
    prefix: process.env.TOPIC_PREFIX ?? '',
    config: { mode: 'exactly-once' },
    ...(telemetry.tracer ? { tracer: telemetry.tracer } : {}),
  });
  subscribe('lifecycle', (e) => log('lifecycle', { status: e.status, detail: e.detail }));
  subscribe('error', (e) => log('error', { where: e.where, partition: e.partition, error: String(e.error) }));
  subscribe('dlq', (e) =>
    log('dlq', { partition: e.partition, offset: e.offset, error: e.errorClass, message: e.message }),
  );
  const running = await runStage(stage, { clientId: `feedlog-classify-g${generation}` });
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
