import { ViewRefresher } from '@feedlog/migrations';
import { type RunningStage, runStage, subscribe } from '@feedlog/runtime';
import type { Kafka } from 'kafkajs';
import type pg from 'pg';
import { type AppliedBatch, PgOffsetStore } from './pg-store.ts';
import { defaultGroupId, materializedTopics, materializeStage, STAGE } from './stage.ts';

export { defaultGroupId, GENERATION, materializedTopics, STAGE } from './stage.ts';

export type MaterializerEvent =
  | { event: 'started'; groupId: string; topics: string[] }
  | { event: 'assigned'; partitions: number }
  | ({ event: 'batch' } & AppliedBatch)
  | { event: 'seek'; topic: string; partition: number; from: string; to: string }
  | { event: 'retry'; topic: string; partition: number; attempt: number; error: string }
  | { event: 'refresh'; views: { view: string; ms: number }[] }
  | { event: 'error'; error: string }
  | { event: 'crash'; error: string; restart: boolean }
  | { event: 'stopped' };

export interface MaterializerOptions {
  pool: pg.Pool;
  kafka: Kafka;
  /** Topic-name prefix of the declarations (tests). */
  prefix?: string;
  groupId?: string;
  registryUrl?: string;
  /** PostgreSQL transactions at once (each batch of one partition is one). Default 3. */
  concurrency?: number;
  sessionTimeout?: number;
  /** Fetch size per partition (smaller: more, shorter transactions). Default 1 MiB. */
  maxBytesPerPartition?: number;
  /** Records per PostgreSQL transaction at most (smaller: more commit points). Default 5,000. */
  maxBatchRecords?: number;
  /** Refresh job_progress/story_summary after bursts and on a schedule (default on). */
  refresh?: boolean | { intervalMs?: number; debounceMs?: number; maxDelayMs?: number };
  onEvent?: (e: MaterializerEvent) => void;
  /**
   * exactly-once (default): offsets stored with the rows, positions taken from PostgreSQL.
   * at-least-once: rows in PostgreSQL, then offsets to the Kafka group only (a crash between the
   * two applies a batch twice). For comparison (bench, and to show the chaos test can fail).
   */
  mode?: 'exactly-once' | 'at-least-once';
  clientId?: string;
}

export interface MaterializerStats {
  batches: number;
  records: number;
  applied: number;
  failures: number;
  retries: number;
  seeks: number;
}

export interface RunningMaterializer extends RunningStage {
  topics: string[];
  stats: MaterializerStats;
  refresher: ViewRefresher | null;
}

export class MissingTopicsError extends Error {
  override name = 'MissingTopicsError';
}

const errText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/**
 * The materializer: the `materialize` stage (every stage topic and the stages' DLQs) on the
 * runtime, with PostgreSQL as its store (rows and offsets in one transaction, see PgOffsetStore),
 * and the views refreshed after bursts. Runtime events are turned into MaterializerEvents.
 */
export async function startMaterializer(opts: MaterializerOptions): Promise<RunningMaterializer> {
  const prefix = opts.prefix ?? '';
  const groupId = opts.groupId ?? defaultGroupId;
  const emit = opts.onEvent ?? (() => {});
  const topics = materializedTopics(prefix).map((t) => t.topic);
  const stats: MaterializerStats = { batches: 0, records: 0, applied: 0, failures: 0, retries: 0, seeks: 0 };

  const admin = opts.kafka.admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics());
  const missing = [...topics, `${prefix}${STAGE}.dlq`].filter((t) => !existing.has(t));
  if (missing.length) {
    await admin.disconnect();
    throw new MissingTopicsError(
      `topics missing: ${missing.join(', ')}; create them with \`feedlog topics apply${prefix ? ` --prefix ${prefix}` : ''}\``,
    );
  }

  const refreshOpts = typeof opts.refresh === 'object' ? opts.refresh : {};
  const refresher =
    opts.refresh === false
      ? null
      : new ViewRefresher(opts.pool, {
          intervalMs: refreshOpts.intervalMs ?? 30_000,
          debounceMs: refreshOpts.debounceMs ?? 1_000,
          maxDelayMs: refreshOpts.maxDelayMs ?? 10_000,
          onRefresh: (views) => emit({ event: 'refresh', views }),
          onError: (e) => emit({ event: 'error', error: `refresh: ${errText(e)}` }),
        }).start();

  const store = new PgOffsetStore({
    pool: opts.pool,
    admin,
    groupId,
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    atLeastOnce: opts.mode === 'at-least-once',
    onApplied(b) {
      if (b.records === 0) return; // only moved the offset over transaction markers
      stats.batches++;
      stats.records += b.records;
      stats.applied += b.applied;
      stats.failures += b.failures;
      emit({ event: 'batch', ...b });
      refresher?.poke();
    },
  });
  const stage = materializeStage({
    prefix,
    groupId,
    store,
    ...(opts.registryUrl ? { registryUrl: opts.registryUrl } : {}),
    ...(opts.sessionTimeout ? { sessionTimeout: opts.sessionTimeout } : {}),
    ...(opts.maxBytesPerPartition ? { maxBytesPerPartition: opts.maxBytesPerPartition } : {}),
    ...(opts.maxBatchRecords ? { maxBatchRecords: opts.maxBatchRecords } : {}),
  });

  // the runtime's channels are process-wide: keep this stage's events
  const mine = (e: { stage: string }) => e.stage === stage.name;
  const offs = [
    subscribe('seek', (e) => {
      if (!mine(e) || e.from === e.to) return;
      stats.seeks++;
      emit({ event: 'seek', topic: e.topic, partition: e.partition, from: String(e.from), to: String(e.to) });
    }),
    subscribe('error', (e) => {
      if (!mine(e)) return;
      if (e.where === 'batch') {
        stats.retries++;
        const at = { topic: e.topic ?? '', partition: e.partition ?? -1 };
        emit({ event: 'retry', ...at, attempt: stats.retries, error: errText(e.error) });
      } else emit({ event: 'error', error: `${e.where}: ${errText(e.error)}` });
    }),
    subscribe('assignment', (e) => {
      if (mine(e) && e.assigned.length) emit({ event: 'assigned', partitions: e.assigned.length });
    }),
    subscribe('lifecycle', (e) => {
      if (mine(e) && e.status === 'failed') emit({ event: 'crash', error: e.detail ?? '', restart: false });
    }),
  ];

  let running: RunningStage;
  try {
    running = await runStage(stage, { kafka: opts.kafka, clientId: opts.clientId ?? `feedlog-${STAGE}` });
  } catch (e) {
    for (const off of offs) off();
    await refresher?.stop();
    await admin.disconnect().catch(() => {});
    throw e;
  }
  emit({ event: 'started', groupId, topics });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await running.stop();
      await admin.disconnect().catch(() => {});
      await refresher?.stop();
      for (const off of offs) off();
      emit({ event: 'stopped' });
    })();
    return stopping;
  };
  return { ...running, stop, topics, stats, refresher };
}
