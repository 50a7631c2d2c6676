import { loadConfig } from '@feedlog/common';
import { runProcess } from '@feedlog/telemetry';
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
  try {
    await app.listen({ port: settings.port, host: settings.host });
  } catch (e) {
    await app.close().catch(() => {});
    throw e;
  }
  return app;
}

/**
 * The API process (`feedlog up`, `feedlog serve`): /healthz, /readyz and /metrics on its own port;
 * life cycle (validated config, graceful shutdown with SHUTDOWN_DEADLINE_MS) by `runProcess`.
 * The API keeps its own metrics registry (feedlog_api_*), so the process telemetry adds no second
 * set of process metrics.
 */
export function serveApi(): void {
  runProcess(
    'api',
    async ({ log }) => {
      const app = await startServer();
      log('listening', { address: app.server.address() });
      return { stop: () => app.close() };
    },
    { defaultMetrics: false },
  );
}

if (import.meta.url === `file://${process.argv[1]}`) serveApi();
