/**
 * The classify stage process: raw-headlines → classified, exactly-once.
 *
 * Environment (besides KAFKA_BROKERS, SCHEMA_REGISTRY_URL, … of @feedlog/common):
 *   STAGE_GENERATION  generation (consumer group feedlog.classify.g<N>, outputs tagged with it); default 1
 *   CLASSIFY_MODEL    model artifact path (`feedlog train classify --out …`); default: the fixture-trained model
 *   FEEDLOG_TOPIC_PREFIX  prefix of every topic name (isolated environments); default none
 *   METRICS_PORT      serve Prometheus /metrics on this port; none when unset
 *   STAGE_HEALTH_PORT serve /healthz and /readyz on this port; none when unset
 *   OTEL_EXPORTER_OTLP_ENDPOINT  export spans over OTLP; no span export when unset
 *
 * Run: `node --import tsx processors/classify/src/main.ts`
 */
import { runStageProcess } from '@feedlog/telemetry';
import { classifyEnv } from './env.ts';
import { classifyStage, loadClassifyModel } from './stage.ts';

const env = classifyEnv.parse();

runStageProcess('classify', ({ telemetry, generation, prefix, log }) => {
  const model = loadClassifyModel(env.CLASSIFY_MODEL, (line) => log('model', { line }));
  log('model loaded', { name: model.name, version: model.version, generation });
  return classifyStage({
    model,
    generation,
    prefix,
    config: { mode: 'exactly-once' },
    ...(telemetry.tracer ? { tracer: telemetry.tracer } : {}),
  });
});
