/**
 * The materializer process: `npx tsx processors/materialize/src/main.ts` (or `npm start -w @feedlog/materialize`).
 * Applies pending migrations, then consumes until SIGTERM/SIGINT. One JSON event per line on stdout.
 * Life cycle (telemetry, /metrics on METRICS_PORT, /healthz and /readyz on STAGE_HEALTH_PORT, graceful
 * shutdown with a deadline): `runProcess` of @feedlog/telemetry.
 *
 * Environment: DATABASE_URL, KAFKA_BROKERS, SCHEMA_REGISTRY_URL (see @feedlog/common), and
 *   FEEDLOG_TOPIC_PREFIX     topic-name prefix (isolated environments, tests)
 *   MATERIALIZE_GROUP        consumer group (default feedlog.materialize.g1)
 *   MATERIALIZE_CONCURRENCY  PostgreSQL transactions at once (default 3)
 *   MATERIALIZE_SESSION_TIMEOUT_MS  group session timeout (default 10000)
 *   MATERIALIZE_APP_NAME     PostgreSQL application_name (default feedlog-materialize)
 *   MATERIALIZE_MIGRATE=false  do not apply migrations at start
 *   MATERIALIZE_MAX_BYTES_PER_PARTITION  fetch size per partition (default 1 MiB)
 *   MATERIALIZE_MODE=at-least-once  offsets to the Kafka group only (comparison; not for production)
 *   MATERIALIZE_QUIET=true   print only lifecycle events, not one line per batch
 */
import { createKafka } from '@feedlog/common';
import { migrate } from '@feedlog/migrations';
import { runProcess } from '@feedlog/telemetry';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import pg from 'pg';
import { materializeEnv } from './env.ts';
import { defaultGroupId, startMaterializer } from './materializer.ts';

runProcess(
  'materialize',
  async ({ config, log }) => {
    const env = materializeEnv.parse();
    const quiet = env.MATERIALIZE_QUIET;
    const concurrency = env.MATERIALIZE_CONCURRENCY;
    const pool = new pg.Pool({
      connectionString: config.postgres.url,
      max: concurrency + 2,
      application_name: env.MATERIALIZE_APP_NAME,
      connectionTimeoutMillis: 5_000,
    });
    // An idle connection killed by the server (restart, pg_terminate_backend): the pool drops it and
    // the next query opens a new one. Without a listener the error would end the process.
    pool.on('error', (e) => log('error', { error: `idle connection: ${e.message}` }));

    if (env.MATERIALIZE_MIGRATE) {
      // the database may still be starting; an edited or broken migration is not worth retrying
      const policy = retry(
        handleWhen((e) => !e.name.startsWith('Migration')),
        { maxAttempts: 9, backoff: new ExponentialBackoff({ initialDelay: 500, maxDelay: 5_000 }) },
      );
      const r = await policy.execute(() => migrate(pool));
      if (r.applied.length) log('migrated', { applied: r.applied });
    }

    const running = await startMaterializer({
      pool,
      kafka: createKafka(config, { clientId: `${config.kafka.clientId}-materialize` }),
      prefix: env.FEEDLOG_TOPIC_PREFIX,
      groupId: env.MATERIALIZE_GROUP ?? defaultGroupId,
      concurrency,
      sessionTimeout: env.MATERIALIZE_SESSION_TIMEOUT_MS,
      ...(env.MATERIALIZE_MAX_BYTES_PER_PARTITION
        ? { maxBytesPerPartition: env.MATERIALIZE_MAX_BYTES_PER_PARTITION }
        : {}),
      ...(env.MATERIALIZE_MAX_BATCH_RECORDS ? { maxBatchRecords: env.MATERIALIZE_MAX_BATCH_RECORDS } : {}),
      mode: env.MATERIALIZE_MODE,
      onEvent: ({ event, ...fields }) => {
        if (quiet && (event === 'batch' || event === 'refresh')) return;
        log(event, fields);
      },
    }).catch(async (e: unknown) => {
      await pool.end().catch(() => {});
      throw e;
    });
    return {
      ...running,
      async stop() {
        await running.stop();
        await pool.end().catch(() => {});
      },
      describe: () => ({ groupId: running.groupId, topics: running.topics.length }),
    };
  },
  { serviceName: 'feedlog-materialize' },
);
