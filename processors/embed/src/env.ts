import { defineEnv, envVar } from '@feedlog/common/define-env';
import { commonEnv } from '@feedlog/common/env';
import { int, oneOf, str } from '@feedlog/common/env-parsers';

/** The embed stage's client of an OpenAI-compatible endpoint (the cluster stage's semantic mode reads it too). */
export const embedEnv = defineEnv('@feedlog/embed', {
  EMBEDDING_BASE_URL: envVar(commonEnv, 'EMBEDDING_BASE_URL'),
  EMBEDDER_PORT: envVar(commonEnv, 'EMBEDDER_PORT'),
  EMBEDDING_MODEL: envVar(commonEnv, 'EMBEDDING_MODEL'),
  EMBEDDING_API_KEY: {
    schema: str().default('unused'),
    secret: true,
    doc: 'Bearer token for the embedding endpoint (never logged).',
  },
  EMBEDDING_DIMENSIONS: {
    schema: int({ min: 1 }).optional(),
    default: 'the native size',
    doc: 'Ask the endpoint for this output size (only models trained for it accept another).',
  },
  EMBEDDING_MODEL_VERSION: {
    schema: str().optional(),
    default: 'the model the endpoint reports',
    doc: 'Written as run.model_version of embed outputs.',
  },
  EMBED_BATCH_SIZE: { schema: int({ min: 1, max: 2048 }).default(64), doc: 'Inputs per embedding request.' },
  EMBED_LINGER_MS: {
    schema: int({ min: 0, max: 60_000 }).default(20),
    doc: 'Wait at most this long to fill an embedding batch.',
  },
  EMBED_CONCURRENCY: {
    schema: int({ min: 1, max: 256 }).default(4),
    doc: 'Embedding requests in flight per process.',
  },
  EMBED_TIMEOUT_MS: { schema: int({ min: 100 }).default(30_000), doc: 'Per-attempt timeout of an embedding request.' },
  EMBED_MAX_ATTEMPTS: {
    schema: int({ min: 1, max: 100 }).default(6),
    doc: 'Attempts per embedding request on 408/409/429/5xx/connection errors.',
  },
  EMBED_INITIAL_BACKOFF_MS: {
    schema: int({ min: 0 }).default(100),
    doc: 'First backoff of the embedding client (exponential, full jitter).',
  },
  EMBED_MAX_BACKOFF_MS: { schema: int({ min: 0 }).default(5_000), doc: 'Backoff cap of the embedding client.' },
  EMBED_MAX_RETRY_AFTER_MS: {
    schema: int({ min: 0 }).default(60_000),
    doc: 'Longest Retry-After the embedding client honours (a longer one is cut to this).',
  },
  EMBED_MAX_CHARS: {
    schema: int({ min: 16 }).default(4_096),
    doc: 'Characters of "title\\nsummary" sent to the embedding model.',
  },
  EMBED_CACHE: {
    schema: oneOf(['postgres', 'off']).default('postgres'),
    doc: 'postgres: embeddings kept in the embedding_cache table (DATABASE_URL), shared by processes and runs; off: none.',
  },
  EMBED_CACHE_MAX_ROWS: {
    schema: int({ min: 1 }).default(1_000_000),
    doc: 'Rows the embedding cache keeps, least recently used evicted (~2.1 GB at 384 dims).',
  },
});
