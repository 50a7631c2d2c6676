import { createKafka, type FeedlogConfig, loadConfig, repoRoot } from '@feedlog/common';
import { EmbeddedIndex, type VectorIndex } from '@feedlog/index';
import { QdrantIndex } from '@feedlog/index/qdrant';
import { ReplayController } from '@feedlog/replay';
import { serdeFor } from '@feedlog/schemas';
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
  API_ANON_RATE_LIMIT?: string;
  API_CORS_ORIGINS?: string;
  EMBEDDER_PORT?: string;
  EMBEDDING_BASE_URL?: string;
  EMBEDDING_MODEL?: string;
  QDRANT_URL?: string;
  QDRANT_API_KEY?: string;
  INDEX_DIR?: string;
  INDEX_ALIAS?: string;
  FEEDLOG_TOPIC_PREFIX?: string;
}

const int = (v: string | undefined, d: number) => {
  const n = v === undefined || v === '' ? d : Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got ${v}`);
  return n;
};

export function apiSettings(env: NodeJS.ProcessEnv = process.env) {
  const e = env as ApiEnv;
  return {
    port: int(e.API_PORT, 8080),
    host: e.API_HOST || '127.0.0.1',
    maxBatch: int(e.API_MAX_BATCH, 500),
    bodyLimit: int(e.API_BODY_LIMIT, 8 * 1024 * 1024),
    anonymousPerMinute: int(e.API_ANON_RATE_LIMIT, 120),
    corsOrigins: e.API_CORS_ORIGINS ? e.API_CORS_ORIGINS.split(',').map((s) => s.trim()) : [],
    embeddingBaseUrl: e.EMBEDDING_BASE_URL || `http://127.0.0.1:${int(e.EMBEDDER_PORT, 8090)}/v1`,
    embeddingModel: e.EMBEDDING_MODEL || 'all-MiniLM-L6-v2-int8',
    qdrantUrl: e.QDRANT_URL,
    qdrantApiKey: e.QDRANT_API_KEY,
    indexDir: e.INDEX_DIR,
    indexAlias: e.INDEX_ALIAS || 'headlines',
    topicPrefix: e.FEEDLOG_TOPIC_PREFIX ?? '',
  };
}

/** The Serde for raw-headlines, plus a readiness check that asks the registry for the subject. */
export function serdeEncoder(config: FeedlogConfig, prefix = '', autoRegister = false): RawEncoder {
  const topic = `${prefix}${topicNames.raw}`;
  const serde = serdeFor('RawHeadline', topic, { prefix, registryUrl: config.registry.url, autoRegister });
  return {
    encode: (r) => serde.encode(r),
    async check() {
      const r = await fetch(`${config.registry.url}/subjects/${encodeURIComponent(serde.subject)}/versions/latest`, {
        signal: AbortSignal.timeout(2_000),
      });
      if (!r.ok) throw new Error(`registry answered ${r.status} for ${serde.subject}`);
    },
  };
}

/** The production dependencies of buildApp, from the environment. */
export function createServices(
  config: FeedlogConfig = loadConfig(),
  env: NodeJS.ProcessEnv = process.env,
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
    rateLimit: { anonymousPerMinute: s.anonymousPerMinute },
    corsOrigins: s.corsOrigins,
  };
}
