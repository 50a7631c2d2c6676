import { loadConfig } from '@feedlog/common';
import { z } from 'zod';
import { buildEmbedderApp } from './app.ts';
import { DEFAULT_MODEL, MODELS } from './models.ts';
import { loadModels } from './models-load.ts';
import { DEFAULT_BUCKET_ROWS } from './onnx-model.ts';

// Environment of the local embedder (the lead merges these into @feedlog/common's envSpec).
const env = z
  .object({
    EMBEDDER_HOST: z.string().default('127.0.0.1'),
    EMBEDDER_PORT: z.coerce.number().int().min(1).max(65535).default(8090),
    EMBEDDER_MODELS: z.string().default(Object.keys(MODELS).join(',')),
    EMBEDDER_DEFAULT_MODEL: z.string().default(DEFAULT_MODEL),
    EMBEDDER_SESSIONS: z.coerce.number().int().min(1).optional(),
    EMBEDDER_INTRA_OP_THREADS: z.coerce.number().int().min(1).optional(),
    EMBEDDER_INTER_OP_THREADS: z.coerce.number().int().min(1).default(1),
    EMBEDDER_GRAPH_OPTIMIZATION: z.enum(['disabled', 'basic', 'extended', 'all']).default('all'),
    EMBEDDER_EXECUTION_MODE: z.enum(['sequential', 'parallel']).default('sequential'),
    EMBEDDER_ALLOW_SPINNING: z.stringbool().default(false),
    EMBEDDER_BUCKET_ROWS: z.coerce.number().int().min(0).max(2048).default(DEFAULT_BUCKET_ROWS),
    EMBEDDER_MAX_BATCH: z.coerce.number().int().min(1).max(2048).default(64),
    EMBEDDER_MAX_WAIT_MS: z.coerce.number().min(0).max(1000).default(3),
  })
  .parse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== '')));

const config = loadConfig();
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
  interOpThreads: env.EMBEDDER_INTER_OP_THREADS,
  graphOptimizationLevel: env.EMBEDDER_GRAPH_OPTIMIZATION,
  executionMode: env.EMBEDDER_EXECUTION_MODE,
  allowSpinning: env.EMBEDDER_ALLOW_SPINNING,
  bucketRows: env.EMBEDDER_BUCKET_ROWS,
});
const app = await buildEmbedderApp({
  models,
  defaultModel: env.EMBEDDER_DEFAULT_MODEL,
  batcher: { maxBatch: env.EMBEDDER_MAX_BATCH, maxWaitMs: env.EMBEDDER_MAX_WAIT_MS },
  logger: config.logLevel === 'debug',
});
const shutdown = async (signal: string) => {
  app.log.info(`embedder: ${signal}, closing`);
  await app.close();
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
const address = await app.listen({ host: env.EMBEDDER_HOST, port: env.EMBEDDER_PORT });
process.stderr.write(`embedder: serving ${names.join(', ')} on ${address} (default ${env.EMBEDDER_DEFAULT_MODEL})\n`);
