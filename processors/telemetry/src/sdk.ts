import type { StageTracer } from '@feedlog/runtime';
import { NodeSDK, resources, type tracing } from '@opentelemetry/sdk-node';
import type { Registry } from 'prom-client';
import { telemetryEnv } from './env.ts';
import { type StageMetrics, serveMetrics, stageMetrics } from './metrics.ts';
import { otelStageTracer } from './tracer.ts';

export interface TelemetryOptions {
  /** OTel `service.name` and the `service` label of the metrics, e.g. `feedlog-classify` */
  serviceName: string;
  /**
   * Span processors to use instead of the environment's (tests pass a SimpleSpanProcessor over an
   * InMemorySpanExporter). Without them: OTLP when OTEL_EXPORTER_OTLP_ENDPOINT or
   * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (protocol etc. from the usual OTEL_* variables), none otherwise.
   */
  spanProcessors?: tracing.SpanProcessor[];
  /** serve GET /metrics on this port; default METRICS_PORT from the environment, none when unset */
  metricsPort?: number;
  /** process metrics (CPU, heap, event loop); default true */
  defaultMetrics?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface Telemetry {
  /** the StageTracer to give defineStage (`tracer:`): OpenTelemetry spans when tracing exports, else undefined (the runtime's propagating default) */
  tracer: StageTracer | undefined;
  tracing: 'otlp' | 'custom' | 'none';
  metrics: StageMetrics;
  registry: Registry;
  /** the port /metrics listens on, when served */
  metricsPort: number | undefined;
  /** flush spans, stop the metrics server, unsubscribe */
  shutdown(): Promise<void>;
}

let current: Telemetry | undefined;

/**
 * Set up telemetry once per process: the OpenTelemetry Node SDK (global tracer provider, W3C
 * propagation) and Prometheus metrics fed by the runtime's diagnostics channels, served on
 * `/metrics`. A second call returns the first setup (stages in one process share it).
 */
export async function setupTelemetry(opts: TelemetryOptions): Promise<Telemetry> {
  if (current) return current;
  const env = telemetryEnv.parse(opts.env);
  const otlp = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const mode: Telemetry['tracing'] = opts.spanProcessors ? 'custom' : otlp ? 'otlp' : 'none';

  let sdk: NodeSDK | undefined;
  if (mode !== 'none') {
    sdk = new NodeSDK({
      serviceName: opts.serviceName,
      autoDetectResources: false,
      resource: resources.resourceFromAttributes({ 'service.name': opts.serviceName }),
      // 'otlp': span processors from the OTEL_* environment (OTLP exporter, batch processor)
      ...(opts.spanProcessors ? { spanProcessors: opts.spanProcessors } : {}),
      logRecordProcessors: [],
      instrumentations: [],
    });
    sdk.start();
  }

  const metrics = stageMetrics({
    labels: { service: opts.serviceName },
    ...(opts.defaultMetrics === undefined ? {} : { defaultMetrics: opts.defaultMetrics }),
  });
  const port = opts.metricsPort ?? env.METRICS_PORT;
  const served = port === undefined ? undefined : await serveMetrics(metrics.registry, port, env.METRICS_HOST);

  const t: Telemetry = {
    tracer: mode === 'none' ? undefined : otelStageTracer(),
    tracing: mode,
    metrics,
    registry: metrics.registry,
    metricsPort: served?.port,
    async shutdown() {
      if (current === t) current = undefined;
      metrics.close();
      await served?.close();
      await sdk?.shutdown();
    },
  };
  current = t;
  return t;
}
