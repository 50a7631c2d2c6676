import { loadConfig } from '@feedlog/common';
import { buildEmbedderApp } from './app.ts';
import { embedderEnv } from './env.ts';
import { loadModels } from './models-load.ts';

const env = embedderEnv.parse();
const config = loadConfig();
const names = [...env.EMBEDDER_MODELS];
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
