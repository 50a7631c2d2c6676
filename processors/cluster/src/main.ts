/**
 * The cluster stage process: classified → clustered, exactly-once, state in the compacted
 * changelog topic feedlog.cluster.changelog (restored at start).
 *
 * Environment (besides KAFKA_BROKERS, SCHEMA_REGISTRY_URL, … of @feedlog/common):
 *   STAGE_GENERATION  generation (group feedlog.cluster.g<N>, changelog keys g<N>/…, outputs tagged); default 1
 *   TOPIC_PREFIX      prefix of every topic name (isolated environments); default none
 *   INPUT_GENERATION  cluster only `classified` records of this classify generation (a replay sets it); default every record
 *   CLUSTER_MAX_IDLE_MS  how long the partition merge waits for unfetched records (default 10000)
 *   CLUSTER_PIPELINE=0   commit each batch before preparing the next (default: prepare while committing)
 *   STAGE_MAX_RECORDS / STAGE_LINGER_MS  batch bounds (default 2000 / 50: one instance does all partitions,
 *                     so larger catch-up batches amortise the transaction; the linger bounds live-tail latency)
 *   STAGE_SESSION_TIMEOUT_MS  consumer group session timeout (default 10000)
 *   LOG_BATCHES=1     one JSON line per committed batch
 *   METRICS_PORT      serve Prometheus /metrics on this port; none when unset
 *   HEALTH_PORT       serve /healthz and /readyz on this port; none when unset
 *   OTEL_EXPORTER_OTLP_ENDPOINT  export spans over OTLP; no span export when unset
 *
 * One instance holds every input partition; start a second one as a hot standby.
 * Run: `node --import tsx processors/cluster/src/main.ts`
 */
import { inputGenerationFromEnv, onlyInputGeneration, onShutdown, serveHealth, subscribe } from '@feedlog/runtime';
import { setupTelemetry } from '@feedlog/telemetry';
import { runClusterStage } from './run-cluster.ts';
import { clusterStage } from './stage.ts';

const log = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), stage: 'cluster', event, ...fields })}\n`);

function intEnv(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number.parseInt(v, 10);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v} is not a non-negative integer`);
  return n;
}

async function main(): Promise<void> {
  const generation = intEnv('STAGE_GENERATION', 1);
  const telemetry = await setupTelemetry({ serviceName: 'feedlog-cluster' });
  if (telemetry.metricsPort !== undefined) log('metrics', { port: telemetry.metricsPort, tracing: telemetry.tracing });
  const built = clusterStage({
    generation,
    prefix: process.env.TOPIC_PREFIX ?? '',
    config: {
      batch: { maxRecords: intEnv('STAGE_MAX_RECORDS', 2000), lingerMs: intEnv('STAGE_LINGER_MS', 50) },
      sessionTimeoutMs: intEnv('STAGE_SESSION_TIMEOUT_MS', 10_000),
    },
    ...(telemetry.tracer ? { tracer: telemetry.tracer } : {}),
  });
  const parts = {
    ...built,
    stage: onlyInputGeneration(built.stage, inputGenerationFromEnv(), (v) => v.classification.run),
  };
  if (process.env.LOG_BATCHES === '1')
    subscribe('batch', (e) =>
      log('batch', { records: e.recordsIn, out: e.recordsOut, dlq: e.dlq, ms: Math.round(e.batchMs) }),
    );
  subscribe('error', (e) => log('error', { where: e.where, error: String(e.error) }));
  subscribe('dlq', (e) =>
    log('dlq', { partition: e.partition, offset: e.offset, error: e.errorClass, message: e.message }),
  );
  const running = await runClusterStage(parts, {
    clientId: `feedlog-cluster-g${generation}`,
    maxIdleMs: intEnv('CLUSTER_MAX_IDLE_MS', 10_000),
    pipeline: process.env.CLUSTER_PIPELINE !== '0',
    log,
  });
  const healthPort = process.env.HEALTH_PORT;
  if (healthPort) await serveHealth(running.health, Number.parseInt(healthPort, 10));
  onShutdown(async () => {
    await running.stop();
    await telemetry.shutdown();
  });
  await running.ready();
  log('ready', { groupId: running.groupId, transactionalId: running.transactionalId, model: parts.stage.model });
  await running.done;
  await telemetry.shutdown();
}

main().catch((e: unknown) => {
  log('failed', { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.exit(1);
});
