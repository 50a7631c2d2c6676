export { LATENCY_BUCKETS, type StageMetrics, type StageMetricsOptions, serveMetrics, stageMetrics } from './metrics.ts';
export { setupTelemetry, type Telemetry, type TelemetryOptions } from './sdk.ts';
export {
  intEnv,
  type ProcessLog,
  processLog,
  runProcess,
  runStageProcess,
  type ServiceHandle,
  type StageProcessContext,
} from './stage-process.ts';
export { MAX_LINKS, type OtelTracerOptions, otelStageTracer, TRACER_NAME } from './tracer.ts';
