import type { EmbeddingClient } from '@feedlog/embed';
import { SEMANTIC_PRESET } from './semantic.ts';
import type { ClusterStageOptions } from './stage.ts';

/** The embed stage's client + cache (moved to @feedlog/embed: the classify stage opens it too). */
export { openEmbedder } from '@feedlog/embed';

/**
 * The `clusterStage` options of the default, semantic stage: `SEMANTIC_PRESET` with this client
 * (its text length limit too, so the cache keys equal the embed stage's). main.ts and the tests
 * that replay what main.ts wrote use the same.
 */
export function semanticStageOptions(
  client: EmbeddingClient,
): Required<Pick<ClusterStageOptions, 'options' | 'embedder' | 'embedMaxChars'>> {
  return { options: SEMANTIC_PRESET, embedder: client, embedMaxChars: client.settings.maxChars };
}
