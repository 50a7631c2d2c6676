import { createKafka, type FeedlogConfig, loadConfig, repoRoot } from '@feedlog/common';
import { EmbeddedIndex, type VectorIndex } from '@feedlog/index';
import { QdrantIndex } from '@feedlog/index/qdrant';
import { type GroupFilter, groupFilter, LagMonitor, type LagMonitorOptions } from '@feedlog/lag';
import { ReplayController } from '@feedlog/replay';
import { RegistryRestClient, serdeFor } from '@feedlog/schemas';
import { topicNames } from '@feedlog/topics';
import pg from 'pg';
import type { AppOptions } from './app.ts';
import { OpenAIEmbedder } from './plugins/embedder.ts';
import { KafkaIngestSink, type RawEncoder } from './plugins/kafka.ts';

/** Environment the API reads on top of @feedlog/common's (see README). */
export interface ApiEnv {
  API_PORT?: string;
  API_HOST?: string;
  API_MAX_BATCH?: string;
  API_BODY_LIMIT?: string;
  API_LARGE_BODY_BYTES?: string;
  API_LARGE_BODY_QUEUE?: string;
  API_ANON_RATE_LIMIT?: string;
  API_CORS_ORIGINS?: string;
  API_PUBLIC_READS?: string;
  API_LOG_FILE?: string;
  EMBEDDER_PORT?: string;
  EMBEDDING_BASE_URL?: string;
  EMBEDDING_MODEL?: string;
  QDRANT_URL?: string;
  QDRANT_API_KEY?: string;
  INDEX_DIR?: string;
  INDEX_ALIAS?: string;
  FEEDLOG_TOPIC_PREFIX?: string;
  API_LAG_GROUPS?: string;
  API_LAG_INTERVAL_MS?: string;
}

const int = (v: string | undefined, d: number) => {
  const n = v === undefined || v === '' ? d : Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got ${v}`);
  return n;
};

const count = (v: string | undefined, d: number) => {
  const n = v === undefined || v === '' ? d : Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a non-negative integer, got ${v}`);
  return n;
};

export function apiSettings(env: NodeJS.ProcessEnv = process.env) {
  const e = env as ApiEnv;
  return {
    port: int(e.API_PORT, 8080),
    host: e.API_HOST || '127.0.0.1',
    maxBatch: int(e.API_MAX_BATCH, 500),
    bodyLimit: int(e.API_BODY_LIMIT, 2 * 1024 * 1024),
    // bodies from this size are parsed in the low-priority body worker, one at a time (json-body.ts)
    largeBodyBytes: int(e.API_LARGE_BODY_BYTES, 64 * 1024),
    // large bodies that may wait for it; one more is 503 busy (0: only the one being worked on)
    largeBodyQueue: count(e.API_LARGE_BODY_QUEUE, 4),
    anonymousPerMinute: int(e.API_ANON_RATE_LIMIT, 120),
    publicReads:
      e.API_PUBLIC_READS === undefined || e.API_PUBLIC_READS === '' || /^(1|true|yes)$/i.test(e.API_PUBLIC_READS),
    logFile: e.API_LOG_FILE || undefined,
    corsOrigins: e.API_CORS_ORIGINS ? e.API_CORS_ORIGINS.split(',').map((s) => s.trim()) : [],
    embeddingBaseUrl: e.EMBEDDING_BASE_URL || `http://127.0.0.1:${int(e.EMBEDDER_PORT, 8090)}/v1`,
    embeddingModel: e.EMBEDDING_MODEL || 'all-MiniLM-L6-v2-int8',
    qdrantUrl: e.QDRANT_URL,
    qdrantApiKey: e.QDRANT_API_KEY,
    indexDir: e.INDEX_DIR,
    indexAlias: e.INDEX_ALIAS || 'headlines',
    topicPrefix: e.FEEDLOG_TOPIC_PREFIX ?? '',
    // groups GET /v1/lag and the gauges report: comma-separated, a trailing * matches a prefix; all when unset
    lagGroups: e.API_LAG_GROUPS ? e.API_LAG_GROUPS.split(',').map((g) => g.trim()) : undefined,
    lagIntervalMs: int(e.API_LAG_INTERVAL_MS, 5000),
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
  env: NodeJS.ProcessEnv = process.env,
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
  else index = new EmbeddedIndex({ ...(s.indexDir ? { dir: s.indexDir } : {}), readOnly: true });
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
    sink: new KafkaIngestSink(kafka, `${s.topicPrefix}${topicNames.raw}`),
    encoder: serdeEncoder(config, s.topicPrefix),
    pool,
    embedder: new OpenAIEmbedder(s.embeddingBaseUrl),
    index,
    indexAlias: s.indexAlias,
    defaultModel: s.embeddingModel,
    maxBatch: s.maxBatch,
    bodyLimit: s.bodyLimit,
    largeBodies: { threshold: s.largeBodyBytes, queue: s.largeBodyQueue },
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
