/**
 * The local embedder `feedlog up` starts: `node --import tsx processors/embedder/src/main.ts`.
 * Loads its models, then serves the OpenAI-compatible API on EMBEDDER_HOST:EMBEDDER_PORT (loopback
 * by default) with /healthz, /readyz and /metrics. Life cycle (validated config, telemetry, graceful
 * shutdown with SHUTDOWN_DEADLINE_MS): `runProcess` of @feedlog/telemetry.
 */
import { runProcess } from '@feedlog/telemetry';
import { buildEmbedderApp } from './app.ts';
import { embedderEnv } from './env.ts';
import { loadModels } from './models-load.ts';

runProcess('embedder', async ({ config, telemetry, log }) => {
  const env = embedderEnv.parse();
  const names = [...env.EMBEDDER_MODELS];
  if (!names.includes(env.EMBEDDER_DEFAULT_MODEL)) names.unshift(env.EMBEDDER_DEFAULT_MODEL);

  const models = await loadModels(names, {
    cacheDir: `${config.cache}/models`,
    sessions: env.EMBEDDER_SESSIONS,
    intraOpThreads: env.EMBEDDER_INTRA_OP_THREADS,
    interOpThreads: env.EMBEDDER_INTER_OP_THREADS,
    graphOptimizationLevel: env.EMBEDDER_GRAPH_OPTIMIZATION,
    executionMode: env.EMBEDDER_EXECUTION_MODE,
    allowSpinning: env.EMBEDDER_ALLOW_SPINNING,
    bucketRows: env.EMBEDDER_BUCKET_ROWS,
    mavenRepository: env.EMBEDDER_MAVEN_REPOSITORY,
  });
  const app = await buildEmbedderApp({
    models,
    defaultModel: env.EMBEDDER_DEFAULT_MODEL,
    batcher: { maxBatch: env.EMBEDDER_MAX_BATCH, maxWaitMs: env.EMBEDDER_MAX_WAIT_MS },
    logger: config.logLevel === 'debug',
    metrics: telemetry.registry,
  });
  const address = await app.listen({ host: env.EMBEDDER_HOST, port: env.EMBEDDER_PORT });
  log('listening', { address, models: names, default: env.EMBEDDER_DEFAULT_MODEL });
  return { stop: () => app.close() };
});
