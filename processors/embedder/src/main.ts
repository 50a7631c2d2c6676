/**
 * The local embedder `feedlog up` starts: `node --import tsx processors/embedder/src/main.ts`.
 * Loads its models, then serves the OpenAI-compatible API on EMBEDDER_HOST:EMBEDDER_PORT (loopback
 * by default) with /healthz, /readyz and /metrics. Life cycle (validated config, telemetry, graceful
 * shutdown with SHUTDOWN_DEADLINE_MS): `runProcess` of @feedlog/telemetry.
 */
import { runProcess } from '@feedlog/telemetry';
import { z } from 'zod';
import { buildEmbedderApp } from './app.ts';
import { DEFAULT_MODEL, MODELS } from './models.ts';
import { loadModels } from './models-load.ts';

// Environment of the local embedder (the lead merges these into @feedlog/common's envSpec).
const envSchema = z.object({
  EMBEDDER_HOST: z.string().default('127.0.0.1'),
  EMBEDDER_PORT: z.coerce.number().int().min(1).max(65535).default(8090),
  EMBEDDER_MODELS: z.string().default(Object.keys(MODELS).join(',')),
  EMBEDDER_DEFAULT_MODEL: z.string().default(DEFAULT_MODEL),
  EMBEDDER_SESSIONS: z.coerce.number().int().min(1).optional(),
  EMBEDDER_INTRA_OP_THREADS: z.coerce.number().int().min(1).optional(),
  EMBEDDER_MAX_BATCH: z.coerce.number().int().min(1).max(2048).default(64),
  EMBEDDER_MAX_WAIT_MS: z.coerce.number().min(0).max(1000).default(3),
});

runProcess('embedder', async ({ config, telemetry, log }) => {
  const env = envSchema.parse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== '')));
  const names = env.EMBEDDER_MODELS.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) {
    if (!MODELS[n]) throw new Error(`EMBEDDER_MODELS: unknown model '${n}' (known: ${Object.keys(MODELS).join(', ')})`);
  }
  if (!names.includes(env.EMBEDDER_DEFAULT_MODEL)) names.unshift(env.EMBEDDER_DEFAULT_MODEL);

  const models = await loadModels(names, {
    cacheDir: `${config.cache}/models`,
    sessions: env.EMBEDDER_SESSIONS,
    intraOpThreads: env.EMBEDDER_INTRA_OP_THREADS,
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
