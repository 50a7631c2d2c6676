import { defineEnv, envVar } from '@feedlog/common/define-env';
import { commonEnv } from '@feedlog/common/env';
import { bool, int, list, str } from '@feedlog/common/env-parsers';
import { indexEnv } from '@feedlog/index/env';

/** The HTTP API: its own limits and the addresses of what it reads (index, embedder, lag). */
export const apiEnv = defineEnv('@feedlog/api', {
  API_PORT: envVar(commonEnv, 'API_PORT'),
  API_HOST: { schema: str().default('127.0.0.1'), doc: 'Address the API binds (loopback by default).' },
  API_MAX_BATCH: { schema: int({ min: 1 }).default(500), doc: 'Items one POST /v1/items accepts at most.' },
  API_BODY_LIMIT: { schema: int({ min: 1 }).default(2 * 1024 * 1024), doc: 'Largest API request body in bytes.' },
  API_LARGE_BODY_BYTES: {
    schema: int({ min: 1 }).default(64 * 1024),
    doc: 'Bodies from this size are parsed and validated one at a time in a low-priority worker thread.',
  },
  API_LARGE_BODY_QUEUE: {
    schema: int({ min: 0 }).default(4),
    doc: 'Large bodies that may wait for the body worker; one more is answered 503 busy with Retry-After.',
  },
  API_LARGE_BODY_RATE: {
    schema: int({ min: 0 }).default(16 * 1024 * 1024),
    doc: 'Bytes per second of large bodies the API reads (the rest wait unread, held by TCP); 0: no limit.',
  },
  API_ANON_RATE_LIMIT: {
    schema: int({ min: 1 }).default(120),
    doc: 'Requests per minute a caller without an API key may make.',
  },
  API_CORS_ORIGINS: {
    schema: list().optional(),
    default: 'none',
    doc: 'Comma-separated origins allowed by CORS.',
  },
  API_PUBLIC_READS: {
    schema: bool().default(true),
    doc: 'GET /v1/* open to callers without a key (false: they need a key with the read scope).',
  },
  API_LOG_FILE: { schema: str().optional(), default: 'stdout', doc: 'Write the API request log to this file.' },
  API_LAG_GROUPS: {
    schema: list().optional(),
    default: 'the deployment’s groups',
    doc: 'Consumer groups GET /v1/lag and the lag gauges report (a trailing * matches a prefix).',
  },
  API_LAG_INTERVAL_MS: {
    schema: int({ min: 1 }).default(5_000),
    doc: 'Lag sample period while a dashboard page or a /metrics scrape needs it.',
  },
  API_REPLAY_IDLE_CHECK_MS: {
    schema: int({ min: 100 }).default(30_000),
    doc: 'While no replay runs, the API looks for one started elsewhere (the CLI) this often; a running one is advanced every second.',
  },
  EMBEDDING_BASE_URL: envVar(commonEnv, 'EMBEDDING_BASE_URL'),
  EMBEDDER_PORT: envVar(commonEnv, 'EMBEDDER_PORT'),
  EMBEDDING_MODEL: envVar(commonEnv, 'EMBEDDING_MODEL'),
  QDRANT_URL: envVar(indexEnv, 'QDRANT_URL'),
  QDRANT_API_KEY: envVar(indexEnv, 'QDRANT_API_KEY'),
  INDEX_DIR: envVar(indexEnv, 'INDEX_DIR'),
  INDEX_ALIAS: envVar(indexEnv, 'INDEX_ALIAS'),
  INDEX_SEARCH_EF: envVar(indexEnv, 'INDEX_SEARCH_EF'),
  INDEX_SEARCH_THREADS: envVar(indexEnv, 'INDEX_SEARCH_THREADS'),
  FEEDLOG_TOPIC_PREFIX: envVar(commonEnv, 'FEEDLOG_TOPIC_PREFIX'),
});
