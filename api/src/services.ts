import { createKafka, type FeedlogConfig, loadConfig, repoRoot } from '@feedlog/common';
import { EmbeddedIndex, type VectorIndex } from '@feedlog/index';
import { QdrantIndex } from '@feedlog/index/qdrant';
import { type GroupFilter, groupFilter, LagMonitor, type LagMonitorOptions } from '@feedlog/lag';
import { ReplayController } from '@feedlog/replay';
import { RegistryRestClient, serdeFor } from '@feedlog/schemas';
import { topicNames } from '@feedlog/topics';
import pg from 'pg';
import type { AppOptions } from './app.ts';
import { apiEnv } from './env.ts';
import { OpenAIEmbedder } from './plugins/embedder.ts';
import { KafkaIngestSink, type RawEncoder } from './plugins/kafka.ts';

/** The API's settings from the environment (see env.ts); throws ConfigError naming every bad variable. */
export function apiSettings(env?: NodeJS.ProcessEnv) {
  const e = apiEnv.parse(env);
  return {
    port: e.API_PORT,
    host: e.API_HOST,
    maxBatch: e.API_MAX_BATCH,
    bodyLimit: e.API_BODY_LIMIT,
    // bodies from this size are parsed in the low-priority body worker, one at a time (json-body.ts)
    largeBodyBytes: e.API_LARGE_BODY_BYTES,
    // large bodies that may wait for it; one more is 503 busy (0: only the one being worked on)
    largeBodyQueue: e.API_LARGE_BODY_QUEUE,
    // bytes per second of large bodies read off the sockets (0: no limit)
    largeBodyRate: e.API_LARGE_BODY_RATE,
    anonymousPerMinute: e.API_ANON_RATE_LIMIT,
    publicReads: e.API_PUBLIC_READS,
    logFile: e.API_LOG_FILE,
    corsOrigins: e.API_CORS_ORIGINS ?? [],
    embeddingBaseUrl: e.EMBEDDING_BASE_URL ?? `http://127.0.0.1:${e.EMBEDDER_PORT}/v1`,
    embeddingModel: e.EMBEDDING_MODEL,
    qdrantUrl: e.QDRANT_URL,
    qdrantApiKey: e.QDRANT_API_KEY,
    indexDir: e.INDEX_DIR,
    indexAlias: e.INDEX_ALIAS,
    indexSearchEf: e.INDEX_SEARCH_EF,
    indexSearchThreads: e.INDEX_SEARCH_THREADS,
    topicPrefix: e.FEEDLOG_TOPIC_PREFIX,
    // groups GET /v1/lag and the gauges report: comma-separated, a trailing * matches a prefix; all when unset
    lagGroups: e.API_LAG_GROUPS,
    lagIntervalMs: e.API_LAG_INTERVAL_MS,
    replayIdleCheckMs: e.API_REPLAY_IDLE_CHECK_MS,
  };
}

/** The Serde for raw-headlines, plus a readiness check that asks the registry for the subject. */
export function serdeEncoder(config: FeedlogConfig, prefix = '', autoRegister = false): RawEncoder {
  const topic = `${prefix}${topicNames.raw}`;
  const serde = serdeFor('RawHeadline', topic, { prefix, registryUrl: config.registry.url, autoRegister });
  const registry = new RegistryRestClient(config.registry.url, { timeoutMs: 2_000 });
  return {
    encode: (r) => serde.encode(r),
    async check() {
      if (!(await registry.latest(serde.subject))) throw new Error(`registry has no ${serde.subject}`);
    },
  };
}

/**
 * The consumer groups of this deployment: `feedlog.<stage>.g<N>` (no dots in the stage), or with a
 * topic prefix (tests), the groups whose names carry the prefix as the stages derive it.
 */
export function deploymentGroups(prefix: string): GroupFilter {
  if (!prefix) return /^feedlog\.[a-z][\w-]*\.g\d+$/;
  const stagePrefix = prefix.replace(/[^a-z0-9_.-]/gi, '-').replace(/^[^a-z]+/i, '');
  return (group) => group.includes(stagePrefix);
}

/** The production dependencies of buildApp, from the environment. */
export function createServices(
  config: FeedlogConfig = loadConfig(),
  env?: NodeJS.ProcessEnv,
  over: { lag?: Partial<LagMonitorOptions> } = {},
): AppOptions & { settings: ReturnType<typeof apiSettings>; replays: ReplayController } {
  const s = apiSettings(env);
  const pool = new pg.Pool({ connectionString: config.postgres.url, max: 10, connectionTimeoutMillis: 3_000 });
  // an idle client losing its connection must not crash the process
  pool.on('error', () => undefined);
  const kafka = createKafka(config, { clientId: `${config.kafka.clientId}-api` });
  let index: VectorIndex;
  if (s.qdrantUrl) index = new QdrantIndex({ url: s.qdrantUrl, ...(s.qdrantApiKey ? { apiKey: s.qdrantApiKey } : {}) });
  // the index stage writes; the API follows its log read-only
  else
    index = new EmbeddedIndex({
      ...(s.indexDir ? { dir: s.indexDir } : {}),
      readOnly: true,
      searchEf: s.indexSearchEf,
      searchThreads: s.indexSearchThreads,
    });
  const replays = new ReplayController({
    pool,
    kafka,
    home: config.home,
    root: repoRoot(env),
    prefix: s.topicPrefix,
    index: () => index,
    alias: s.indexAlias,
    // stored with the generation: any controller restarts its processes against the same index
    env: {
      ...(s.indexDir ? { INDEX_DIR: s.indexDir } : {}),
      ...(s.qdrantUrl ? { INDEX_BACKEND: 'qdrant', QDRANT_URL: s.qdrantUrl } : {}),
      EMBEDDING_BASE_URL: s.embeddingBaseUrl,
    },
    currentModels: { embed: s.embeddingModel },
  });
  return {
    settings: s,
    replays,
    replayIdleCheckMs: s.replayIdleCheckMs,
    sink: new KafkaIngestSink(kafka, `${s.topicPrefix}${topicNames.raw}`),
    encoder: serdeEncoder(config, s.topicPrefix),
    pool,
    embedder: new OpenAIEmbedder(s.embeddingBaseUrl),
    index,
    indexAlias: s.indexAlias,
    defaultModel: s.embeddingModel,
    maxBatch: s.maxBatch,
    bodyLimit: s.bodyLimit,
    largeBodies: { threshold: s.largeBodyBytes, queue: s.largeBodyQueue, rate: s.largeBodyRate },
    rateLimit: { anonymousPerMinute: s.anonymousPerMinute },
    corsOrigins: s.corsOrigins,
    publicReads: s.publicReads,
    topicPrefix: s.topicPrefix,
    dashboard: { intervalMs: s.lagIntervalMs, opsIntervalMs: s.lagIntervalMs },
    // connects on its first sample; samples only while a dashboard page or a /metrics scrape needs it
    lag: new LagMonitor({
      kafka,
      pool,
      brokers: config.kafka.brokers,
      intervalMs: s.lagIntervalMs,
      ...(s.lagGroups
        ? { groups: groupFilter(s.lagGroups)! }
        : s.topicPrefix
          ? { groups: deploymentGroups(s.topicPrefix) }
          : {}),
      ...over.lag,
    }),
  };
}
