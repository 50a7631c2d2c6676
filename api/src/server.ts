import { loadConfig } from '@feedlog/common';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { apiLogger } from './log.ts';
import { createServices } from './services.ts';

/** Build the API from the environment and listen on API_HOST:API_PORT (default 127.0.0.1:8080). */
export async function startServer(env?: NodeJS.ProcessEnv): Promise<FastifyInstance> {
  const config = loadConfig(env);
  const { settings, ...opts } = createServices(config, env);
  const app = await buildApp({
    ...opts,
    logger: apiLogger({ level: config.logLevel, ...(settings.logFile ? { file: settings.logFile } : {}) }),
  });
  await app.listen({ port: settings.port, host: settings.host });
  const stop = async (signal: string) => {
    app.log.info({ signal }, 'closing');
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  startServer().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
