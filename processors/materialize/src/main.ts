/**
 * The materializer process: `npx tsx processors/materialize/src/main.ts` (or `npm start -w @feedlog/materialize`).
 * Applies pending migrations, then consumes until SIGTERM/SIGINT. One JSON event per line on stdout.
 *
 * Environment: DATABASE_URL, KAFKA_BROKERS, SCHEMA_REGISTRY_URL (see @feedlog/common), and
 *   FEEDLOG_TOPIC_PREFIX     topic-name prefix (isolated environments, tests)
 *   MATERIALIZE_GROUP        consumer group (default feedlog.materialize.g1)
 *   MATERIALIZE_CONCURRENCY  partitions processed at once (default 3)
 *   MATERIALIZE_SESSION_TIMEOUT_MS  group session timeout (default 10000)
 *   MATERIALIZE_APP_NAME     PostgreSQL application_name (default feedlog-materialize)
 *   MATERIALIZE_MIGRATE=0    do not apply migrations at start
 *   MATERIALIZE_MAX_BYTES_PER_PARTITION  fetch size per partition (default 1 MiB)
 *   MATERIALIZE_MODE=at-least-once  offsets to the Kafka group only (comparison; not for production)
 *   MATERIALIZE_QUIET=1      print only lifecycle events, not one line per batch
 */
import { createKafka, loadConfig } from '@feedlog/common';
import { migrate } from '@feedlog/migrations';
import pg from 'pg';
import { defaultGroupId, type MaterializerEvent, startMaterializer } from './materializer.ts';

const env = process.env;
const config = loadConfig();
const print = (e: MaterializerEvent | Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ...e })}\n`);
const quiet = env.MATERIALIZE_QUIET === '1';

const pool = new pg.Pool({
  connectionString: config.postgres.url,
  max: Number(env.MATERIALIZE_CONCURRENCY ?? 3) + 2,
  application_name: env.MATERIALIZE_APP_NAME ?? 'feedlog-materialize',
  connectionTimeoutMillis: 5_000,
});
// An idle connection killed by the server (restart, pg_terminate_backend): the pool drops it and
// the next query opens a new one. Without a listener the error would end the process.
pool.on('error', (e) => print({ event: 'error', error: `idle connection: ${e.message}` }));

if (env.MATERIALIZE_MIGRATE !== '0') {
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await migrate(pool);
      if (r.applied.length) print({ event: 'migrated', applied: r.applied });
      break;
    } catch (e) {
      if (attempt >= 10 || (e as Error).name.startsWith('Migration')) throw e;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

const running = await startMaterializer({
  pool,
  kafka: createKafka(config, { clientId: `${config.kafka.clientId}-materialize` }),
  prefix: env.FEEDLOG_TOPIC_PREFIX ?? '',
  groupId: env.MATERIALIZE_GROUP ?? defaultGroupId,
  concurrency: Number(env.MATERIALIZE_CONCURRENCY ?? 3),
  sessionTimeout: Number(env.MATERIALIZE_SESSION_TIMEOUT_MS ?? 10_000),
  ...(env.MATERIALIZE_MAX_BYTES_PER_PARTITION
    ? { maxBytesPerPartition: Number(env.MATERIALIZE_MAX_BYTES_PER_PARTITION) }
    : {}),
  mode: env.MATERIALIZE_MODE === 'at-least-once' ? 'at-least-once' : 'exactly-once',
  onCrash: () => {
    process.exitCode = 1;
    void shutdown('crash');
  },
  onEvent: (e) => {
    if (quiet && (e.event === 'batch' || e.event === 'skip' || e.event === 'refresh')) return;
    print(e);
  },
}).catch(async (e: Error) => {
  print({ event: 'error', error: `${e.name}: ${e.message}` });
  process.stderr.write(`feedlog materialize: ${e.message}\n`);
  await pool.end().catch(() => {});
  process.exit(1);
});

let exiting = false;
const shutdown = async (signal: string) => {
  if (exiting) return;
  exiting = true;
  print({ event: 'signal', signal });
  await running.stop();
  await pool.end().catch(() => {});
  process.exit(process.exitCode ?? 0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
