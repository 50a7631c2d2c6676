export { LATENCY_BUCKETS, type StageMetrics, type StageMetricsOptions, serveMetrics, stageMetrics } from './metrics.ts';
export {
  DEFAULT_SHUTDOWN_DEADLINE_MS,
  type ProcessContext,
  type ProcessLog,
  processLog,
  type RunProcessOptions,
  runProcess,
  type ServiceHandle,
  type StageProcessContext,
} from './process.ts';
export { setupTelemetry, type Telemetry, type TelemetryOptions } from './sdk.ts';
export { runStageProcess } from './stage-process.ts';
export { MAX_LINKS, type OtelTracerOptions, otelStageTracer, TRACER_NAME } from './tracer.ts';
