import { isUtf8 } from 'node:buffer';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { VectorIndex } from '@feedlog/index/types';
import type { ReplayController } from '@feedlog/replay';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type pg from 'pg';
import sjson from 'secure-json-parse';
import { type ApiKeyStore, authPlugin, MemoryApiKeyStore, PgApiKeyStore } from './auth.ts';
import { errorHandler, errors } from './errors.ts';
import { embedderPlugin, type QueryEmbedder } from './plugins/embedder.ts';
import { indexPlugin } from './plugins/index.ts';
import { type IngestSink, kafkaPlugin, type RawEncoder } from './plugins/kafka.ts';
import { metricsPlugin } from './plugins/metrics.ts';
import { pgPlugin } from './plugins/pg.ts';
import { healthRoutes } from './routes/health.ts';
import { itemRoutes } from './routes/item.ts';
import { itemsRoutes } from './routes/items.ts';
import { jobsRoutes } from './routes/jobs.ts';
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
  index?: VectorIndex;
  indexAlias?: string;
  /** embedding model when no embed generation is serving (default all-MiniLM-L6-v2-int8) */
  defaultModel?: string;
  /** items per POST /v1/items (default 500) */
  maxBatch?: number;
  /** bytes per request body (default 8 MiB) */
  bodyLimit?: number;
  /** requests per minute: per key (api_keys.rate_limit_per_minute) and for callers without a key; false disables */
  rateLimit?: { anonymousPerMinute?: number; timeWindowMs?: number } | false;
  /** allowed CORS origins; CORS is off (no headers) unless given */
  corsOrigins?: string[];
  /** extra readiness checks (the registry) and which components are required */
  health?: { checks?: Record<string, () => Promise<void>>; required?: string[]; timeoutMs?: number };
  /** close the sink, pool and index when the app closes (default true) */
  closeDependencies?: boolean;
  logger?: FastifyServerOptions['logger'];
  /** the replay controller behind /v1/replays (absent: those routes answer 503) */
  replays?: ReplayController;
}

/** The API as a Fastify instance, not listening (tests use `inject`; server.ts listens). */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const maxBatch = opts.maxBatch ?? 500;
  const bodyLimit = opts.bodyLimit ?? 8 * 1024 * 1024;
  const close = opts.closeDependencies !== false;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit,
    // a request id the client can quote; 5xx bodies carry it
    requestIdHeader: false,
    genReqId: () => crypto.randomUUID(),
    routerOptions: { maxParamLength: 200 },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req) => {
    throw errors.notFound(`no route ${req.method} ${req.url.split('?')[0]}`);
  });

  // JSON only, strictly: invalid UTF-8 is refused (not replaced by U+FFFD), __proto__ and
  // constructor.prototype keys are refused. Everything else gets 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    const buf = body as Buffer;
    if (buf.length === 0) return done(errors.invalidJson('empty body'), undefined);
    if (!isUtf8(buf)) return done(errors.invalidEncoding(), undefined);
    try {
      done(null, sjson.parse(buf.toString('utf8'), { protoAction: 'error', constructorAction: 'error' }));
    } catch (e) {
      done(errors.invalidJson(String((e as Error).message).slice(0, 200)), undefined);
    }
  });

  await app.register(metricsPlugin);
  await app.register(pgPlugin, { pool: opts.pool, closePool: close });
  await app.register(kafkaPlugin, { sink: opts.sink, encoder: opts.encoder, closeSink: close });
  await app.register(embedderPlugin, { embedder: opts.embedder });
  await app.register(indexPlugin, { index: opts.index, alias: opts.indexAlias, closeIndex: close });
  const keyStore = opts.apiKeys ?? (opts.pool ? new PgApiKeyStore(opts.pool) : new MemoryApiKeyStore());
  await app.register(authPlugin, { store: keyStore });
  if (opts.corsOrigins?.length) await app.register(cors, { origin: opts.corsOrigins });

  if (opts.rateLimit !== false) {
    const anonymous = opts.rateLimit?.anonymousPerMinute ?? 120;
    const windowMs = opts.rateLimit?.timeWindowMs ?? 60_000;
    await app.register(rateLimit, {
      global: true,
      // after authentication (onRequest), before the body is read
      hook: 'preParsing',
      timeWindow: windowMs,
      keyGenerator: (req) => (req.apiKey ? `key:${req.apiKey.id}` : `ip:${req.ip}`),
      max: (req) => req.apiKey?.rateLimitPerMinute ?? anonymous,
      errorResponseBuilder: (_req, ctx) => errors.rateLimited(ctx.max, `${Math.round(windowMs / 1000)} s`, ctx.after),
    });
  }

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

  await app.register(healthRoutes, opts.health ?? {});
  await app.register(
    async (v1) => {
      await v1.register(itemsRoutes, { maxBatch });
      await v1.register(itemRoutes);
      await v1.register(jobsRoutes);
      await v1.register(storiesRoutes);
      await v1.register(searchRoutes, { defaultModel: opts.defaultModel ?? 'all-MiniLM-L6-v2-int8' });
      await v1.register(replayRoutes, opts.replays ? { controller: opts.replays } : {});
    },
    { prefix: '/v1' },
  );
  await app.ready();
  return app;
}
