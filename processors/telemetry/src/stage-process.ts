import type { Server } from 'node:http';
import { deprecatedEnvChannel } from '@feedlog/common/define-env';
import { onShutdown, runStage, type Stage, type StageHealth, serveHealth, subscribe } from '@feedlog/runtime';
import { telemetryEnv } from './env.ts';
import { setupTelemetry, type Telemetry } from './sdk.ts';

export type ProcessLog = (event: string, fields?: Record<string, unknown>) => void;

/** One JSON line per event on stdout, tagged with the process. */
export function processLog(stage: string): ProcessLog {
  return (event, fields = {}) =>
    process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), stage, event, ...fields })}\n`);
}

/** @deprecated declare the variable in the package's env.ts (defineEnv) and read the parsed value */
export function intEnv(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number.parseInt(v, 10);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v} is not a non-negative integer`);
  return n;
}

export interface StageProcessContext {
  telemetry: Telemetry;
  generation: number;
  /** topic-name prefix (FEEDLOG_TOPIC_PREFIX), for isolated environments */
  prefix: string;
  log: ProcessLog;
}

/** What a process runs: a stage, the materializer… */
export interface ServiceHandle {
  health(): StageHealth;
  ready(): Promise<void>;
  /** graceful: finish or abort the open work, leave the group, close every client */
  stop(): Promise<void>;
  /** settles when the service stops: rejects when it failed for good */
  done: Promise<void>;
  /** fields of the `ready` log line */
  describe?(): Record<string, unknown>;
}

/**
 * The life of every feedlog consumer process, in one place: telemetry first (tracing, /metrics on
 * METRICS_PORT), the service built by `start`, runtime events logged (LOG_BATCHES=1 adds one line
 * per batch), /healthz and /readyz on STAGE_HEALTH_PORT (127.0.0.1 unless STAGE_HEALTH_HOST), and one graceful
 * shutdown on SIGTERM/SIGINT or a fatal error (the runtime's `onShutdown`, close-with-grace): stop
 * the service, flush telemetry, exit; past SHUTDOWN_DEADLINE_MS (default 30 s) or on a second
 * signal it exits 1.
 * A service that fails on its own exits 1 so a supervisor restarts it.
 */
export function runProcess(
  name: string,
  start: (ctx: StageProcessContext) => Promise<ServiceHandle>,
  opts: { serviceName?: string } = {},
): void {
  const log = processLog(name);
  // a deprecated variable name: one JSON log line (not a Node warning on stderr)
  deprecatedEnvChannel.subscribe((m) => log('deprecated-env', m as Record<string, unknown>));
  // every variable of the process life cycle, validated before anything starts (see env.ts)
  let env: ReturnType<typeof telemetryEnv.parse>;
  try {
    env = telemetryEnv.parse();
  } catch (e) {
    log('failed', { error: (e as Error).message });
    process.exit(1);
  }
  let handle: ServiceHandle | undefined;
  let telemetry: Telemetry | undefined;
  let health: Server | undefined;
  const closeAll = async () => {
    await handle?.stop();
    await telemetry?.shutdown();
    await new Promise<void>((r) => (health ? health.close(() => r()) : r()));
  };
  const uninstall = onShutdown(closeAll, {
    deadlineMs: env.SHUTDOWN_DEADLINE_MS,
    log: (line) => log('shutdown', { detail: line }),
  });
  const main = async () => {
    const generation = env.STAGE_GENERATION;
    telemetry = await setupTelemetry({ serviceName: opts.serviceName ?? `feedlog-${name}` });
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
    handle = await start({ telemetry, generation, prefix: env.FEEDLOG_TOPIC_PREFIX, log });
    const h = handle;
    if (env.STAGE_HEALTH_PORT !== undefined)
      health = await serveHealth(h.health, env.STAGE_HEALTH_PORT, env.STAGE_HEALTH_HOST);
    await h.ready();
    log('ready', h.describe?.() ?? {});
    await h.done;
  };
  main().catch(async (e: unknown) => {
    uninstall();
    log('failed', { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    await closeAll().catch(() => {});
    process.exit(1);
  });
}

/** A stage process: `build` returns the stage definition, the runtime runs it (see runProcess). */
export function runStageProcess<I, O>(
  name: string,
  build: (ctx: StageProcessContext) => Promise<Stage<I, O>> | Stage<I, O>,
): void {
  runProcess(name, async (ctx) => {
    const stage = await build(ctx);
    const running = await runStage(stage, { clientId: `feedlog-${name}-g${ctx.generation}` });
    return {
      ...running,
      describe: () => ({
        groupId: running.groupId,
        input: stage.input.topics.join(','),
        output: stage.output?.topic ?? null,
        model: stage.model,
        ...(running.transactionalId ? { transactionalId: running.transactionalId } : {}),
      }),
    };
  });
}
