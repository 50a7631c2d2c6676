import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { VectorIndex } from '@feedlog/index/types';
import type { LagMonitor } from '@feedlog/lag';
import type { ReplayController } from '@feedlog/replay';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type pg from 'pg';
import { type ApiKeyStore, authPlugin, MemoryApiKeyStore, PgApiKeyStore } from './auth.ts';
import { DashboardFeed } from './dashboard/feed.ts';
import { declaredTopics, pipelineGraph, stageOfGroup } from './dashboard/graph.ts';
import { readOps } from './dashboard/ops.ts';
import { dashboardRoutes } from './dashboard/routes.ts';
import { clientErrorHandler, errorHandler, errors } from './errors.ts';
import { embedderPlugin, type QueryEmbedder } from './plugins/embedder.ts';
import { guardsPlugin } from './plugins/guards.ts';
import { indexPlugin } from './plugins/index.ts';
import { installJsonParser, type LargeBodyOptions } from './plugins/json-body.ts';
import { type IngestSink, kafkaPlugin, type RawEncoder } from './plugins/kafka.ts';
import { metricsPlugin } from './plugins/metrics.ts';
import { pgPlugin } from './plugins/pg.ts';
import { CachedQueryEmbedder, type QueryCacheOptions } from './query-cache.ts';
import { feedsRoutes } from './routes/feeds.ts';
import { healthRoutes } from './routes/health.ts';
import { itemRoutes } from './routes/item.ts';
import { itemsRoutes } from './routes/items.ts';
import { jobsRoutes } from './routes/jobs.ts';
import { lagRoutes } from './routes/lag.ts';
import { replayRoutes } from './routes/replays.ts';
import { searchRoutes } from './routes/search.ts';
import { storiesRoutes } from './routes/stories.ts';
import { validatorCompiler } from './validation.ts';

export interface AppOptions {
  /** where accepted items go (KafkaIngestSink in production) */
  sink: IngestSink;
  /** RawHeadline → Confluent wire bytes (the @feedlog/schemas Serde in production) */
  encoder: RawEncoder;
  pool?: pg.Pool;
  /** default: the api_keys table when a pool is given, else no keys (write routes refuse everyone) */
  apiKeys?: ApiKeyStore;
  embedder?: QueryEmbedder;
  /** query vectors cached by model + text, identical concurrent queries coalesced (default on, 2,000 vectors); false: every query embeds */
  queryCache?: QueryCacheOptions | false;
  index?: VectorIndex;
  indexAlias?: string;
  /** embedding model when no embed generation is serving (default all-MiniLM-L6-v2-int8) */
  defaultModel?: string;
  /** GET /v1/search: how long a confirmed serving generation is used without reading it first (see SearchRouteOptions) */
  search?: { servingTtlMs?: number };
  /** items per POST /v1/items (default 500) */
  maxBatch?: number;
  /** bytes per request body (default 2 MiB: 500 real headlines are ~300 kB; bodies from largeBodies.threshold are parsed off the event loop) */
  bodyLimit?: number;
  /**
   * bodies from `threshold` bytes (64 KiB) are parsed and validated one at a time in a low-priority
   * worker thread, `queue` (4) may wait, more are answered 503 `busy`; false: all on the event loop
   */
  largeBodies?: LargeBodyOptions | false;
  /** requests per minute: per key (api_keys.rate_limit_per_minute) and for callers without a key; false disables */
  rateLimit?: { anonymousPerMinute?: number; timeWindowMs?: number } | false;
  /** GET /v1/* without a key (default true); false: they need a key with the read scope (API_PUBLIC_READS) */
  publicReads?: boolean;
  /** allowed CORS origins; CORS is off (no headers) unless given */
  corsOrigins?: string[];
  /** extra readiness checks (the registry) and which components are required */
  health?: { checks?: Record<string, () => Promise<void>>; required?: string[]; timeoutMs?: number };
  /** close the sink, pool and index when the app closes (default true) */
  closeDependencies?: boolean;
  /**
   * consumer lag for GET /v1/lag, the lag gauges and the dashboard; closed with the app. It samples
   * only while needed: a dashboard page connected, a /metrics scrape in the last few minutes, or a
   * GET /v1/lag finding its last report stale (one loop, the dashboard feed's, whatever the demand).
   */
  lag?: LagMonitor;
  logger?: FastifyServerOptions['logger'];
  /** the replay controller behind /v1/replays (absent: those routes answer 503) */
  replays?: ReplayController;
  /** how often the API looks for a replay while none runs (API_REPLAY_IDLE_CHECK_MS; default 30 s) */
  replayIdleCheckMs?: number;
  /** topic prefix of this deployment (FEEDLOG_TOPIC_PREFIX): which topics and groups the dashboard shows */
  topicPrefix?: string;
  /**
   * the sampling loop: lag every intervalMs (default 5 s), PostgreSQL every opsIntervalMs (5 s), 15 min
   * of chart history; a /metrics scrape keeps the loop running for metricsHoldMs (default 3 min)
   */
  dashboard?: {
    intervalMs?: number;
    opsIntervalMs?: number;
    historyMs?: number;
    maxClients?: number;
    metricsHoldMs?: number;
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** the one lag/PostgreSQL sampling loop behind every dashboard page */
    dashboardFeed: DashboardFeed;
  }
}

/** The API as a Fastify instance, not listening (tests use `inject`; server.ts listens). */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const maxBatch = opts.maxBatch ?? 500;
  const bodyLimit = opts.bodyLimit ?? 2 * 1024 * 1024;
  const close = opts.closeDependencies !== false;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit,
    // a request id the client can quote; 5xx bodies carry it
    requestIdHeader: false,
    genReqId: () => crypto.randomUUID(),
    routerOptions: { maxParamLength: 200 },
    // Node's parser errors (431 headers too large…) and router errors (414) in the API's body
    clientErrorHandler,
    frameworkErrors: (err, req, reply) => errorHandler(err, req, reply),
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req) => {
    throw errors.notFound(`no route ${req.method} ${req.url.split('?')[0]}`);
  });

  await app.register(metricsPlugin);
  // after the metrics plugin: the body lane reports into its registry
  installJsonParser(app, opts.largeBodies ?? {});
  await app.register(pgPlugin, { pool: opts.pool, closePool: close });
  await app.register(kafkaPlugin, { sink: opts.sink, encoder: opts.encoder, closeSink: close });
  const embedder =
    opts.embedder && opts.queryCache !== false
      ? new CachedQueryEmbedder(opts.embedder, opts.queryCache)
      : opts.embedder;
  await app.register(embedderPlugin, { embedder });
  await app.register(indexPlugin, { index: opts.index, alias: opts.indexAlias, closeIndex: close });
  const keyStore = opts.apiKeys ?? (opts.pool ? new PgApiKeyStore(opts.pool) : new MemoryApiKeyStore());
  await app.register(authPlugin, { store: keyStore, publicReads: opts.publicReads ?? true });
  await app.register(guardsPlugin, { rateLimit: opts.rateLimit ?? {} });
  if (opts.corsOrigins?.length) await app.register(cors, { origin: opts.corsOrigins });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'feedlog API',
        version: '0.1.0',
        description:
          'Push feed items, follow the jobs they start through every stage, browse stories and search. ' +
          'Errors are `{error, message, details}`; write and admin routes need an API key in `x-api-key`.',
      },
      components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const topics = declaredTopics(opts.topicPrefix);
  const pool = opts.pool;
  const feed = new DashboardFeed({
    ...(opts.lag ? { lag: opts.lag } : {}),
    ...(pool ? { ops: () => readOps(pool) } : {}),
    stageOf: (g) => stageOfGroup(g, topics),
    ...opts.dashboard,
    onError: (what, e) => app.log.warn({ err: e }, `dashboard ${what} failed`),
  });
  app.addHook('onClose', async () => feed.close());
  if (opts.lag) {
    // a scrape wants fresh gauges: it holds the loop for a while and waits for a sample when the last is stale
    const hold = opts.dashboard?.metricsHoldMs ?? 180_000;
    app.addHook('onRequest', async (req) => {
      if (req.routeOptions.url === '/metrics') await feed.demand(hold).catch(() => undefined);
    });
  }
  app.decorate('dashboardFeed', feed);
  // after the /metrics hook above, so it applies to the health group's /metrics route
  await app.register(healthRoutes, opts.health ?? {});
  await app.register(dashboardRoutes, {
    feed,
    graph: pipelineGraph(opts.topicPrefix),
    ...(opts.dashboard?.maxClients ? { maxClients: opts.dashboard.maxClients } : {}),
  });
  await app.register(
    async (v1) => {
      await v1.register(itemsRoutes, { maxBatch });
      await v1.register(itemRoutes);
      await v1.register(jobsRoutes);
      await v1.register(lagRoutes, { monitor: opts.lag, closeMonitor: close });
      await v1.register(storiesRoutes);
      await v1.register(searchRoutes, { defaultModel: opts.defaultModel ?? 'all-MiniLM-L6-v2-int8', ...opts.search });
      await v1.register(feedsRoutes);
      await v1.register(
        replayRoutes,
        opts.replays
          ? {
              controller: opts.replays,
              ...(opts.replayIdleCheckMs === undefined ? {} : { idleCheckEveryMs: opts.replayIdleCheckMs }),
            }
          : {},
      );
    },
    { prefix: '/v1' },
  );
  await app.ready();
  return app;
}
