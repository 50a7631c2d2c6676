import { defineEnv, envVar } from '@feedlog/common/define-env';
import { commonEnv } from '@feedlog/common/env';
import { bool, int, port, str, url } from '@feedlog/common/env-parsers';
import { runtimeEnv } from '@feedlog/runtime/env';

/**
 * The life of a service process (runProcess): health, metrics, tracing, shutdown. The health
 * port has one name for every service (stages, materializer, poller): STAGE_HEALTH_PORT.
 */
export const telemetryEnv = defineEnv('@feedlog/telemetry', {
  STAGE_HEALTH_PORT: {
    schema: port({ zero: true }).optional(),
    default: 'none (no health server)',
    deprecatedNames: ['HEALTH_PORT'],
    doc: 'Serve /healthz and /readyz of a stage, the materializer or the poller on this port (0: any free port).',
  },
  STAGE_HEALTH_HOST: {
    schema: str().default('127.0.0.1'),
    deprecatedNames: ['HEALTH_HOST'],
    doc: 'Address the health server binds (loopback unless told otherwise).',
  },
  METRICS_PORT: {
    schema: port({ zero: true }).optional(),
    default: 'none (no /metrics)',
    doc: 'Serve Prometheus /metrics of the process on this port (0: any free port).',
  },
  METRICS_HOST: { schema: str().default('127.0.0.1'), doc: 'Address /metrics binds (loopback unless told otherwise).' },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    schema: url().optional(),
    doc: 'Export spans over OTLP to this endpoint (the other OTEL_* variables apply); no span export when unset.',
  },
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: {
    schema: url().optional(),
    doc: 'As OTEL_EXPORTER_OTLP_ENDPOINT, for traces only.',
  },
  LOG_BATCHES: { schema: bool().default(false), doc: 'Log one line per processed batch (records in/out, DLQ, ms).' },
  SHUTDOWN_DEADLINE_MS: {
    schema: int({ min: 1 }).default(10_000),
    doc: 'Graceful shutdown deadline; past it (or on a second signal) the process exits 1.',
  },
  STAGE_GENERATION: envVar(runtimeEnv, 'STAGE_GENERATION'),
  FEEDLOG_TOPIC_PREFIX: envVar(commonEnv, 'FEEDLOG_TOPIC_PREFIX'),
});
