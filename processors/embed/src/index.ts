export {
  type CachedEmbedding,
  cacheKey,
  cacheModelId,
  type EmbeddingCache,
  MemoryEmbeddingCache,
} from './cache.ts';
export {
  BadInputError,
  type EmbedBatchResult,
  type EmbedCallOptions,
  type Embedding,
  EmbeddingClient,
  EndpointContractError,
  retryAfterMs,
  unit,
} from './client.ts';
export {
  DEFAULT_EMBEDDING_MODEL,
  describeSettings,
  type EmbeddingSettings,
  embeddingSettings,
  embeddingSettingsFromEnv,
} from './config.ts';
export { embedEnv } from './env.ts';
export { type EmbedMetrics, embedMetrics } from './metrics.ts';
export { openEmbedder } from './open.ts';
export { PgEmbeddingCache, type PgEmbeddingCacheOptions } from './pg-cache.ts';
export { BREAKER_NAME, type EmbedStageOptions, embedStage, FORWARDED_HEADERS } from './stage.ts';
export { type EmbeddableHeadline, embeddingText } from './text.ts';
