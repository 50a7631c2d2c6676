import { envVar, readEnvVar } from '@feedlog/common/define-env';
import { commonEnv } from '@feedlog/common/env';
import { embedEnv } from './env.ts';

/** The model the local embedder serves by default (processors/embedder). */
export const DEFAULT_EMBEDDING_MODEL: string = readEnvVar(envVar(commonEnv, 'EMBEDDING_MODEL'), {});

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

/** Settings from the environment (see env.ts); throws ConfigError naming every bad variable. */
export function embeddingSettingsFromEnv(env?: NodeJS.ProcessEnv): EmbeddingSettings {
  const e = embedEnv.parse(env);
  return {
    baseUrl: e.EMBEDDING_BASE_URL ?? `http://127.0.0.1:${e.EMBEDDER_PORT}/v1`,
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
