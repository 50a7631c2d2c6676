import { loadConfig } from '@feedlog/common';
import { buildRegistryApp } from './app.ts';
import { registryAuthFromEnv } from './auth.ts';
import { registryEnv } from './env.ts';

/**
 * The registry service `feedlog up` starts: `node --import tsx processors/registry/src/main.ts`.
 * Applies its storage migration, listens on SCHEMA_REGISTRY_PORT, exits cleanly on SIGTERM/SIGINT.
 */
const config = loadConfig();
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
  });
} catch (err) {
  // storage unreachable or migration failed: say so on one line and exit non-zero
  const where = config.postgres.url.replace(/\/\/[^@/]*@/, '//***@');
  process.stderr.write(`schema registry failed to start: PostgreSQL ${where}: ${(err as Error).message}\n`);
  process.exit(1);
}

let closing = false;
const shutdown = (signal: string) => {
  if (closing) return;
  closing = true;
  app.log.info({ signal }, 'schema registry shutting down');
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  app.close().then(
    () => process.exit(0),
    (err) => {
      app.log.error({ err }, 'error while closing');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

try {
  const address = await app.listen({ port: config.registry.port, host });
  app.log.info({ address, pgSchema }, `schema registry ready on ${address}`);
} catch (err) {
  app.log.error({ err }, 'schema registry failed to start');
  await app.close().catch(() => {});
  process.exit(1);
}
