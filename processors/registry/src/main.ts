import { runProcess } from '@feedlog/telemetry';
import { buildRegistryApp } from './app.ts';
import { registryAuthFromEnv } from './auth.ts';
import { registryEnv } from './env.ts';

/**
 * The registry service `feedlog up` starts: `node --import tsx processors/registry/src/main.ts`.
 * Applies its storage migration, listens on SCHEMA_REGISTRY_HOST:SCHEMA_REGISTRY_PORT (loopback by
 * default) with /healthz, /readyz (the store answers) and /metrics. Life cycle (validated config,
 * telemetry, graceful shutdown with SHUTDOWN_DEADLINE_MS): `runProcess` of @feedlog/telemetry.
 */
runProcess('registry', async ({ config, telemetry, log }) => {
  const env = registryEnv.parse();
  const host = env.SCHEMA_REGISTRY_HOST;
  const pgSchema = env.SCHEMA_REGISTRY_PG_SCHEMA;
  let app: Awaited<ReturnType<typeof buildRegistryApp>>;
  try {
    app = await buildRegistryApp({
      databaseUrl: config.postgres.url,
      pgSchema,
      logger: { level: config.logLevel },
      logRequests: config.logLevel === 'debug',
      maxSchemaBytes: env.SCHEMA_REGISTRY_MAX_SCHEMA_BYTES,
      auth: registryAuthFromEnv(),
      metrics: telemetry.registry,
    });
  } catch (err) {
    // storage unreachable or migration failed: say where (without the password) on one line
    const where = config.postgres.url.replace(/\/\/[^@/]*@/, '//***@');
    throw new Error(`schema registry failed to start: PostgreSQL ${where}: ${(err as Error).message}`);
  }
  try {
    const address = await app.listen({ port: config.registry.port, host });
    log('listening', { address, pgSchema });
  } catch (err) {
    await app.close().catch(() => {});
    throw err;
  }
  return { stop: () => app.close() };
});
