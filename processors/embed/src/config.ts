import { loadConfig } from '@feedlog/common';
import { z } from 'zod';

/** The model the local embedder serves by default (processors/embedder). */
export const DEFAULT_EMBEDDING_MODEL = 'all-MiniLM-L6-v2-int8';

/**
 * Everything the embed stage needs to reach an OpenAI-compatible `/v1/embeddings` endpoint and
 * to shape its requests. Switching providers (OpenAI, vLLM, TEI, Ollama, the local embedder) is
 * `baseUrl`, `model` and `apiKey` only.
 */
export interface EmbeddingSettings {
  /** e.g. http://127.0.0.1:8090/v1 or https://api.openai.com/v1 */
  baseUrl: string;
  model: string;
  /** sent as `Authorization: Bearer …`; never logged (see `describeSettings`) */
  apiKey: string;
  /** ask the endpoint for this many dimensions (only models trained for it accept another size) */
  dimensions: number | undefined;
  /** reported as `run.model_version`; default: the `model` the endpoint names in its answer */
  modelVersion: string | undefined;
  /** inputs per request (size bound) */
  batchSize: number;
  /** how long a partition waits to fill a batch before it is sent anyway (linger bound) */
  lingerMs: number;
  /** requests in flight at once, over all partitions of this process */
  concurrency: number;
  /** per attempt */
  timeoutMs: number;
  /** attempts per request for 408/409/429/5xx/connection failures, the first one included */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** the longest Retry-After honoured; a longer one is cut to this */
  maxRetryAfterMs: number;
  /** characters of title + summary sent (a deterministic cut before the model's own token window) */
  maxChars: number;
  /** where embeddings are kept across runs: PostgreSQL (`embedding_cache`, DATABASE_URL) or nowhere */
  cache: 'postgres' | 'off';
  /** rows the PostgreSQL cache keeps at most (least recently used evicted) */
  cacheMaxRows: number;
}

const envSchema = z.object({
  EMBEDDING_MODEL: z.string().min(1).default(DEFAULT_EMBEDDING_MODEL),
  EMBEDDING_API_KEY: z.string().default('unused'),
  EMBEDDING_DIMENSIONS: z.coerce.number().int().min(1).optional(),
  EMBEDDING_MODEL_VERSION: z.string().min(1).optional(),
  EMBED_BATCH_SIZE: z.coerce.number().int().min(1).max(2048).default(64),
  EMBED_LINGER_MS: z.coerce.number().int().min(0).max(60_000).default(20),
  EMBED_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
  EMBED_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  EMBED_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(6),
  EMBED_INITIAL_BACKOFF_MS: z.coerce.number().int().min(0).default(100),
  EMBED_MAX_BACKOFF_MS: z.coerce.number().int().min(0).default(5_000),
  EMBED_MAX_RETRY_AFTER_MS: z.coerce.number().int().min(0).default(60_000),
  EMBED_MAX_CHARS: z.coerce.number().int().min(16).default(4_096),
  EMBED_CACHE: z.enum(['postgres', 'off']).default('postgres'),
  EMBED_CACHE_MAX_ROWS: z.coerce.number().int().min(1).default(1_000_000),
});

/** Environment variables the embed stage reads (besides @feedlog/common's EMBEDDING_BASE_URL), for docs. */
export const embedEnvDocs: Record<keyof z.infer<typeof envSchema> | 'EMBEDDING_BASE_URL', string> = {
  EMBEDDING_BASE_URL: 'OpenAI-compatible base URL (default http://127.0.0.1:${EMBEDDER_PORT}/v1, the local embedder)',
  EMBEDDING_MODEL: `model name sent to the endpoint and written as run.model_name (default ${DEFAULT_EMBEDDING_MODEL})`,
  EMBEDDING_API_KEY: 'bearer token for the endpoint (never logged; default "unused")',
  EMBEDDING_DIMENSIONS: 'request this output size (models trained for it only); default: the native size',
  EMBEDDING_MODEL_VERSION: 'run.model_version; default: the model name the endpoint reports',
  EMBED_BATCH_SIZE: 'inputs per request (default 64)',
  EMBED_LINGER_MS: 'wait at most this long to fill a batch (default 20)',
  EMBED_CONCURRENCY: 'requests in flight per process (default 4)',
  EMBED_TIMEOUT_MS: 'per-attempt timeout (default 30000)',
  EMBED_MAX_ATTEMPTS: 'attempts per request on 408/409/429/5xx/connection errors (default 6)',
  EMBED_INITIAL_BACKOFF_MS: 'first backoff (exponential, full jitter; default 100)',
  EMBED_MAX_BACKOFF_MS: 'backoff cap (default 5000)',
  EMBED_MAX_RETRY_AFTER_MS: 'longest Retry-After honoured (default 60000)',
  EMBED_MAX_CHARS: 'characters of "title\\nsummary" sent (default 4096)',
  EMBED_CACHE:
    'postgres: embeddings kept in the embedding_cache table (DATABASE_URL), shared by processes and runs; off: none (default postgres)',
  EMBED_CACHE_MAX_ROWS:
    'rows the cache keeps, least recently used evicted (default 1000000, ~2.1 GB at 384 dims, measured by bench/embed-cache.ts)',
};

/** Settings from the environment; throws naming every bad variable. */
export function embeddingSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): EmbeddingSettings {
  const clean = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(clean);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid embed stage configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return {
    baseUrl: loadConfig(env).embedder.baseUrl,
    model: e.EMBEDDING_MODEL,
    apiKey: e.EMBEDDING_API_KEY,
    dimensions: e.EMBEDDING_DIMENSIONS,
    modelVersion: e.EMBEDDING_MODEL_VERSION,
    batchSize: e.EMBED_BATCH_SIZE,
    lingerMs: e.EMBED_LINGER_MS,
    concurrency: e.EMBED_CONCURRENCY,
    timeoutMs: e.EMBED_TIMEOUT_MS,
    maxAttempts: e.EMBED_MAX_ATTEMPTS,
    initialBackoffMs: e.EMBED_INITIAL_BACKOFF_MS,
    maxBackoffMs: e.EMBED_MAX_BACKOFF_MS,
    maxRetryAfterMs: e.EMBED_MAX_RETRY_AFTER_MS,
    maxChars: e.EMBED_MAX_CHARS,
    cache: e.EMBED_CACHE,
    cacheMaxRows: e.EMBED_CACHE_MAX_ROWS,
  };
}

/** Defaults for everything but the endpoint (tests, bench). */
export function embeddingSettings(over: Partial<EmbeddingSettings> & { baseUrl: string }): EmbeddingSettings {
  const base = embeddingSettingsFromEnv({});
  return { ...base, ...over };
}

/** The settings as they may be logged: the API key is only said to be set or not. */
export function describeSettings(s: EmbeddingSettings): Record<string, unknown> {
  const { apiKey, ...rest } = s;
  return { ...rest, apiKey: apiKey && apiKey !== 'unused' ? '(set)' : '(none)' };
}
