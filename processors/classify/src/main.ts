/**
 * The classify stage process: raw-headlines → classified, exactly-once.
 *
 * Environment (besides KAFKA_BROKERS, SCHEMA_REGISTRY_URL, … of @feedlog/common):
 *   STAGE_GENERATION  generation (consumer group feedlog.classify.g<N>, outputs tagged with it); default 1
 *   CLASSIFY_MODEL    model artifact path (`feedlog train classify --out …`, an n-gram `.flcm` or a fused
 *                     `.flcf` from `--embeddings`); default: the fixture-trained model
 *   EMBEDDING_BASE_URL, EMBEDDING_MODEL, EMBED_CACHE…  the embedder a fused model asks for vectors (the
 *                     embed stage's client and cache, see @feedlog/embed); unused by an n-gram model
 *   FEEDLOG_TOPIC_PREFIX  prefix of every topic name (isolated environments); default none
 *   METRICS_PORT      serve Prometheus /metrics on this port; none when unset
 *   STAGE_HEALTH_PORT serve /healthz and /readyz on this port; none when unset
 *   OTEL_EXPORTER_OTLP_ENDPOINT  export spans over OTLP; no span export when unset
 *
 * Run: `node --import tsx processors/classify/src/main.ts`
 */
import { openEmbedder } from '@feedlog/embed';
import { runStageProcess } from '@feedlog/telemetry';
import { classifyEnv } from './env.ts';
import { isFused } from './load-any.ts';
import { classifyStage, loadClassifyModel } from './stage.ts';

const env = classifyEnv.parse();

runStageProcess('classify', async ({ telemetry, generation, prefix, log }) => {
  const model = loadClassifyModel(env.CLASSIFY_MODEL, (line) => log('model', { line }));
  log('model loaded', { name: model.name, version: model.version, generation, fused: isFused(model) });
  // a fused model is trained on one embedding model's vectors: ask the embedder for that one
  const embedder = isFused(model) ? await openEmbedder({ model: model.embeddingModel, log: (m) => log(m) }) : undefined;
  if (embedder) log('embedder', { model: embedder.client.settings.model, cache: embedder.cache });
  return classifyStage({
    model,
    ...(embedder ? { embedder: embedder.client } : {}),
    generation,
    prefix,
    config: { mode: 'exactly-once' },
    ...(telemetry.tracer ? { tracer: telemetry.tracer } : {}),
  });
});
