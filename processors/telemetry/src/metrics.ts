import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventLoopResolutionMs } from '@feedlog/common';
import { envVar, readEnvVar } from '@feedlog/common/define-env';
import { subscribe } from '@feedlog/runtime';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { telemetryEnv } from './env.ts';

/** Latency buckets in seconds: 0.5 ms … 10 s (a batch commit is ~5–50 ms on a local broker). */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface StageMetrics {
  registry: Registry;
  /** stop listening to the runtime's channels (the registry keeps its values) */
  close(): void;
}

export interface StageMetricsOptions {
  registry?: Registry;
  /** process metrics (CPU, heap, event-loop lag, GC) in the same registry; default true */
  defaultMetrics?: boolean;
  /** constant labels on every series (e.g. { service: 'feedlog-classify' }) */
  labels?: Record<string, string>;
}

/**
 * Prometheus metrics for every stage running in this process, fed by the runtime's
 * `node:diagnostics_channel` events (the runtime does not depend on prom-client).
 * Series are labelled by stage and generation; DLQ and retry events carry no generation, so it is
 * taken from the stage's latest batch event (empty until the first batch).
 */
export function stageMetrics(opts: StageMetricsOptions = {}): StageMetrics {
  const registry = opts.registry ?? new Registry();
  if (opts.labels) registry.setDefaultLabels(opts.labels);
  if (opts.defaultMetrics ?? true)
    // a coarse event-loop monitor: the default 10 ms one wakes an idle process 100 times a second
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: eventLoopResolutionMs() });
  const sg = ['stage', 'generation'] as const;
  const recordsIn = new Counter({
    name: 'feedlog_stage_records_in_total',
    help: 'Input records processed and committed',
    labelNames: sg,
    registers: [registry],
  });
  const recordsOut = new Counter({
    name: 'feedlog_stage_records_out_total',
    help: 'Output records committed',
    labelNames: sg,
    registers: [registry],
  });
  const dlq = new Counter({
    name: 'feedlog_stage_dlq_total',
    help: 'Records sent to the dead-letter topic',
    labelNames: sg,
    registers: [registry],
  });
  const dlqByClass = new Counter({
    name: 'feedlog_stage_dlq_by_error_total',
    help: 'Dead letters by error class',
    labelNames: [...sg, 'error_class'],
    registers: [registry],
  });
  const batches = new Counter({
    name: 'feedlog_stage_batches_total',
    help: 'Committed batches',
    labelNames: sg,
    registers: [registry],
  });
  const hist = (name: string, help: string) =>
    new Histogram({ name, help, labelNames: sg, buckets: LATENCY_BUCKETS, registers: [registry] });
  const batchSeconds = hist(
    'feedlog_stage_batch_duration_seconds',
    'Wall time of a batch: decode, transform, encode and commit',
  );
  const transformSeconds = hist('feedlog_stage_transform_duration_seconds', 'Time in the stage transform per batch');
  const commitSeconds = hist(
    'feedlog_stage_commit_duration_seconds',
    'Time to commit a batch (transaction or offsets)',
  );
  const batchRecords = new Histogram({
    name: 'feedlog_stage_batch_records',
    help: 'Input records per batch',
    labelNames: sg,
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'feedlog_stage_retries_total',
    help: 'Retry waits (records retried together count once)',
    labelNames: [...sg, 'error_class'],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'feedlog_stage_errors_total',
    help: 'Failed batches and consumer errors',
    labelNames: ['stage', 'where'],
    registers: [registry],
  });
  const paused = new Gauge({
    name: 'feedlog_stage_partition_paused',
    help: '1 while an input partition is paused by backpressure or an open breaker',
    labelNames: ['stage', 'topic', 'partition'],
    registers: [registry],
  });
  const assigned = new Gauge({
    name: 'feedlog_stage_assigned_partitions',
    help: 'Input partitions assigned to this process',
    labelNames: ['stage'],
    registers: [registry],
  });
  const breaker = new Gauge({
    name: 'feedlog_stage_breaker_open',
    help: '1 while a circuit breaker is open (0.5 half-open)',
    labelNames: ['stage', 'breaker'],
    registers: [registry],
  });

  const lag = new Gauge({
    name: 'feedlog_stage_lag_records',
    help: 'Input records between the last commit and the log end, as of the last fetch (partition "all" for a stage that commits all partitions together)',
    labelNames: [...sg, 'partition'],
    registers: [registry],
  });

  const generationOf = new Map<string, string>();
  const gen = (stage: string) => generationOf.get(stage) ?? '';
  const offs = [
    subscribe('batch', (e) => {
      const l = { stage: e.stage, generation: String(e.generation) };
      generationOf.set(e.stage, l.generation);
      recordsIn.inc(l, e.recordsIn);
      recordsOut.inc(l, e.recordsOut);
      dlq.inc(l, e.dlq);
      batches.inc(l);
      batchRecords.observe(l, e.recordsIn);
      batchSeconds.observe(l, e.batchMs / 1000);
      transformSeconds.observe(l, e.transformMs / 1000);
      commitSeconds.observe(l, e.commitMs / 1000);
      // `lag` is newer than the first BatchEvent: absent or -1 means unknown
      const behind = (e as { lag?: number }).lag;
      if (typeof behind === 'number' && behind >= 0)
        lag.set({ ...l, partition: e.partition >= 0 ? String(e.partition) : 'all' }, behind);
    }),
    subscribe('dlq', (e) => dlqByClass.inc({ stage: e.stage, generation: gen(e.stage), error_class: e.errorClass })),
    subscribe('retry', (e) => retries.inc({ stage: e.stage, generation: gen(e.stage), error_class: e.errorClass })),
    subscribe('error', (e) => errors.inc({ stage: e.stage, where: e.where })),
    subscribe('backpressure', (e) =>
      paused.set({ stage: e.stage, topic: e.topic, partition: String(e.partition) }, e.paused ? 1 : 0),
    ),
    subscribe('assignment', (e) => {
      assigned.inc({ stage: e.stage }, e.assigned.length);
      assigned.dec({ stage: e.stage }, e.revoked.length);
    }),
    subscribe('breaker', (e) =>
      breaker.set({ stage: e.stage, breaker: e.breaker }, e.state === 'open' ? 1 : e.state === 'half-open' ? 0.5 : 0),
    ),
  ];
  return {
    registry,
    close() {
      for (const off of offs) off();
    },
  };
}

/** `GET /metrics` (Prometheus text format) on `port` (0: any free port), loopback unless told otherwise. Resolves once listening. */
export async function serveMetrics(
  registry: Registry,
  port: number,
  host = readEnvVar(envVar(telemetryEnv, 'METRICS_HOST')),
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        },
        (e: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(e));
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: try /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
