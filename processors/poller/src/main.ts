/**
 * The poller process (`feedlog up` starts it): polls due feeds of the registry until SIGTERM.
 * One JSON event per line on stdout.
 *
 * Environment: DATABASE_URL, KAFKA_BROKERS, SCHEMA_REGISTRY_URL (see @feedlog/common), and
 *   POLLER_CONCURRENCY   feeds polled at once (default 8)
 *   POLLER_IDLE_MS       pause when nothing is due (default 1000)
 *   POLLER_TIMEOUT_MS    one fetch, headers to last byte (default 20000)
 *   POLLER_MAX_BYTES     decoded body cap (default 10 MiB)
 *   POLLER_MAX_REDIRECTS redirects followed (default 5)
 *   POLLER_MIGRATE=false     do not apply migrations at start
 *   FEEDLOG_TOPIC_PREFIX topic-name prefix (isolated environments)
 *   STAGE_HEALTH_PORT, METRICS_PORT  /healthz + /readyz + /metrics, /metrics (life cycle: runProcess of @feedlog/telemetry)
 */
import { createKafka } from '@feedlog/common';
import { migrate } from '@feedlog/migrations';
import { runProcess } from '@feedlog/telemetry';
import pg from 'pg';
import { pollerEnv } from './env.ts';
import { pollerMetrics } from './metrics.ts';
import { Poller } from './poller.ts';
import { KafkaRawSink } from './producer.ts';
import { FeedStore } from './store.ts';

runProcess('poller', async ({ config, telemetry, log }) => {
  const env = pollerEnv.parse();
  const concurrency = env.POLLER_CONCURRENCY;
  const pool = new pg.Pool({
    connectionString: config.postgres.url,
    max: concurrency + 2,
    connectionTimeoutMillis: 5_000,
  });
  pool.on('error', (e) => log('error', { where: 'idle connection', error: e.message }));
  try {
    if (env.POLLER_MIGRATE) await migrate(pool);
  } catch (e) {
    await pool.end().catch(() => {});
    throw e;
  }
  const sink = new KafkaRawSink(createKafka(config, { clientId: `${config.kafka.clientId}-poller` }), {
    prefix: env.FEEDLOG_TOPIC_PREFIX,
    registryUrl: config.registry.url,
  });
  const record = pollerMetrics(telemetry.registry);
  let stopping = false;
  let lastError: string | undefined;
  const poller = new Poller({
    store: new FeedStore(pool),
    pool,
    sink,
    concurrency,
    fetch: {
      timeoutMs: env.POLLER_TIMEOUT_MS,
      maxBytes: env.POLLER_MAX_BYTES,
      maxRedirects: env.POLLER_MAX_REDIRECTS,
    },
    onError: (e, feed) => log('error', { where: 'poll', feed: feed.id, url: feed.url, error: String(e) }),
    onPoll: (r) => {
      record(r);
      log('poll', {
        feed: r.feedId,
        url: r.url,
        outcome: r.outcome,
        status: r.httpStatus,
        items: r.items,
        produced: r.produced,
        job: r.jobId,
        error: r.error ?? undefined,
      });
    },
  });
  poller.start(env.POLLER_IDLE_MS, (e) => {
    lastError = String(e);
    log('error', { where: 'drain', error: lastError });
  });
  return {
    health: () => ({
      status: stopping ? 'stopping' : 'ready',
      live: true,
      ready: !stopping,
      owner: poller.owner,
      ...(lastError ? { error: lastError } : {}),
    }),
    describe: () => ({ owner: poller.owner, concurrency, metricsPort: telemetry.metricsPort }),
    async stop() {
      stopping = true;
      await poller.stop();
      await sink.close();
      await pool.end();
    },
  };
});
