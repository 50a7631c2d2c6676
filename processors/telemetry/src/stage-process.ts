import { onShutdown, runStage, type Stage, serveHealth, subscribe } from '@feedlog/runtime';
import { setupTelemetry, type Telemetry } from './sdk.ts';

export type ProcessLog = (event: string, fields?: Record<string, unknown>) => void;

/** One JSON line per event on stdout, tagged with the stage. */
export function processLog(stage: string): ProcessLog {
  return (event, fields = {}) =>
    process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), stage, event, ...fields })}\n`);
}

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
  /** topic-name prefix (TOPIC_PREFIX), for isolated environments */
  prefix: string;
  log: ProcessLog;
}

/**
 * The life of a stage process, shared by every stage's main.ts: telemetry first, the stage built
 * by `build`, lifecycle/breaker/error/DLQ events logged, health on HEALTH_PORT, SIGTERM/SIGINT
 * stopping the stage before telemetry flushes, exit 1 with the error on a failure.
 */
export function runStageProcess<I, O>(
  name: string,
  build: (ctx: StageProcessContext) => Promise<Stage<I, O>> | Stage<I, O>,
): void {
  const log = processLog(name);
  const main = async () => {
    const generation = intEnv('STAGE_GENERATION', 1);
    const telemetry = await setupTelemetry({ serviceName: `feedlog-${name}` });
    if (telemetry.metricsPort !== undefined)
      log('metrics', { port: telemetry.metricsPort, tracing: telemetry.tracing });
    const stage = await build({ telemetry, generation, prefix: process.env.TOPIC_PREFIX ?? '', log });
    subscribe('lifecycle', (e) => log('lifecycle', { status: e.status, detail: e.detail }));
    subscribe('breaker', (e) => log('breaker', { breaker: e.breaker, state: e.state }));
    subscribe('error', (e) => log('error', { where: e.where, partition: e.partition, error: String(e.error) }));
    subscribe('dlq', (e) =>
      log('dlq', { partition: e.partition, offset: e.offset, error: e.errorClass, message: e.message }),
    );
    const running = await runStage(stage, { clientId: `feedlog-${name}-g${generation}` });
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
  };
  main().catch((e: unknown) => {
    log('failed', { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    process.exit(1);
  });
}
