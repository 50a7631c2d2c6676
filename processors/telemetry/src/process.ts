import type { Server } from 'node:http';
import { ConfigError, type FeedlogConfig, loadConfig } from '@feedlog/common';
import { deprecatedEnvChannel } from '@feedlog/common/define-env';
import { onShutdown, type ServiceHealth, type StageStatus, serveHealth, subscribe } from '@feedlog/runtime';
import { telemetryEnv } from './env.ts';
import { setupTelemetry, type Telemetry } from './sdk.ts';

export type ProcessLog = (event: string, fields?: Record<string, unknown>) => void;

/** One JSON line per event on stdout, tagged with the process. */
export function processLog(stage: string): ProcessLog {
  return (event, fields = {}) =>
    process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), stage, event, ...fields })}\n`);
}

/** Default of SHUTDOWN_DEADLINE_MS: long enough to abort a transaction and leave a group, short for a supervisor. */
export const DEFAULT_SHUTDOWN_DEADLINE_MS = 10_000;

export interface ProcessContext {
  /** the validated configuration (loadConfig), read once before anything starts */
  config: FeedlogConfig;
  telemetry: Telemetry;
  generation: number;
  /** topic-name prefix (FEEDLOG_TOPIC_PREFIX), for isolated environments */
  prefix: string;
  log: ProcessLog;
}
/** @deprecated the name of ProcessContext when only stages had it */
export type StageProcessContext = ProcessContext;

/** What a process runs: a stage, the materializer, an HTTP server… */
export interface ServiceHandle {
  /** what /healthz and /readyz answer; default: live unless failed, ready once started and until stopping */
  health?(): ServiceHealth | Promise<ServiceHealth>;
  /** settles when the service can take work; default: at once */
  ready?(): Promise<void>;
  /** graceful: finish or abort the open work, leave the group, close every client and listener */
  stop(): Promise<void>;
  /** settles when the service stops on its own: rejects when it failed for good; default: never */
  done?: Promise<void>;
  /** fields of the `ready` log line */
  describe?(): Record<string, unknown>;
}

export interface RunProcessOptions {
  /** OTel service.name and the metrics' `service` label; default `feedlog-<name>` */
  serviceName?: string;
  /** process metrics (CPU, heap, event loop) in the telemetry registry; default true */
  defaultMetrics?: boolean;
}

/**
 * The life of every feedlog process (stages, materializer, registry, embedder, API, poller), in one
 * place:
 *  1. configuration validated (`loadConfig`; a bad variable is one line and exit 1, no stack);
 *  2. telemetry (tracing, Prometheus /metrics on METRICS_PORT, loopback);
 *  3. the service built by `start`; runtime events logged (LOG_BATCHES=1 adds one line per batch);
 *  4. /healthz, /readyz and /metrics on STAGE_HEALTH_PORT (127.0.0.1 unless STAGE_HEALTH_HOST);
 *  5. one graceful shutdown on SIGTERM/SIGINT or a fatal error (close-with-grace through the
 *     runtime's `onShutdown`): stop the service, flush telemetry, close the health port, exit 0;
 *     past SHUTDOWN_DEADLINE_MS (default 10 s) or on a second signal, exit 1.
 * A service that fails on its own exits 1 so a supervisor restarts it.
 * No service installs signal handlers of its own.
 */
export function runProcess(
  name: string,
  start: (ctx: ProcessContext) => Promise<ServiceHandle>,
  opts: RunProcessOptions = {},
): void {
  const log = processLog(name);
  // a deprecated variable name: one JSON log line (not a Node warning on stderr)
  deprecatedEnvChannel.subscribe((m) => log('deprecated-env', m as Record<string, unknown>));
  let handle: ServiceHandle | undefined;
  let telemetry: Telemetry | undefined;
  let health: Server | undefined;
  let status: StageStatus = 'starting';
  const closeAll = async () => {
    const t0 = performance.now();
    if (status !== 'failed') status = 'stopping';
    await handle?.stop();
    await telemetry?.shutdown();
    await new Promise<void>((r) => (health ? health.close(() => r()) : r()));
    if (status === 'failed') return;
    status = 'stopped';
    // the last line of a clean stop (close-with-grace exits 0 right after): `feedlog down` and the tests read it
    log('stopped', { ms: Math.round(performance.now() - t0) });
  };
  // every variable of the process life cycle, validated before anything starts (see env.ts)
  let env: ReturnType<typeof telemetryEnv.parse>;
  try {
    env = telemetryEnv.parse();
  } catch (e) {
    log('failed', { error: (e as Error).message });
    process.exit(1);
  }
  const uninstall = onShutdown(closeAll, {
    deadlineMs: env.SHUTDOWN_DEADLINE_MS,
    log: (line) => log('shutdown', { detail: line }),
  });
  const fail = (e: unknown) => {
    uninstall();
    status = 'failed';
    // a configuration mistake is one line; anything else keeps its stack
    const error = e instanceof ConfigError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e);
    log('failed', { error });
    closeAll()
      .catch(() => {})
      .finally(() => process.exit(1));
  };
  const main = async () => {
    const config = loadConfig();
    const generation = env.STAGE_GENERATION;
    telemetry = await setupTelemetry({
      serviceName: opts.serviceName ?? `feedlog-${name}`,
      ...(opts.defaultMetrics === undefined ? {} : { defaultMetrics: opts.defaultMetrics }),
    });
    if (telemetry.metricsPort !== undefined)
      log('metrics', { port: telemetry.metricsPort, tracing: telemetry.tracing });
    subscribe('lifecycle', (e) => log('lifecycle', { status: e.status, detail: e.detail }));
    subscribe('breaker', (e) => log('breaker', { breaker: e.breaker, state: e.state }));
    subscribe('error', (e) =>
      log('error', { where: e.where, topic: e.topic, partition: e.partition, error: String(e.error) }),
    );
    subscribe('dlq', (e) =>
      log('dlq', { partition: e.partition, offset: e.offset, error: e.errorClass, message: e.message }),
    );
    if (env.LOG_BATCHES)
      subscribe('batch', (e) =>
        log('batch', { records: e.recordsIn, out: e.recordsOut, dlq: e.dlq, ms: Math.round(e.batchMs) }),
      );
    handle = await start({ config, telemetry, generation, prefix: env.FEEDLOG_TOPIC_PREFIX, log });
    const h = handle;
    const registry = telemetry.registry;
    if (env.STAGE_HEALTH_PORT !== undefined)
      health = await serveHealth(
        h.health ?? (() => ({ status, live: true, ready: status === 'ready' })),
        env.STAGE_HEALTH_PORT,
        {
          host: env.STAGE_HEALTH_HOST,
          metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
        },
      );
    await h.ready?.();
    if (status === 'starting') status = 'ready';
    log('ready', { ...(h.describe?.() ?? {}), ...(health ? { healthPort: portOf(health) } : {}) });
    await (h.done ?? new Promise<void>(() => {}));
  };
  main().catch(fail);
}

function portOf(server: Server): number | undefined {
  const a = server.address();
  return typeof a === 'object' && a ? a.port : undefined;
}
