import { loadConfig } from '@feedlog/common';
import {
  type EmbeddingCache,
  EmbeddingClient,
  embeddingSettingsFromEnv,
  MemoryEmbeddingCache,
  PgEmbeddingCache,
} from '@feedlog/embed';
import pg from 'pg';
import { SEMANTIC_PRESET } from './semantic.ts';
import type { ClusterStageOptions } from './stage.ts';

/**
 * The embedding client of the embed stage's configuration (EMBEDDING_* / EMBED_* variables), with
 * its cache: the PostgreSQL `embedding_cache` when EMBED_CACHE=postgres and the table exists (shared
 * with the embed stage, so a headline embedded here is not paid for again downstream), otherwise an
 * in-process one. `close` releases the pool.
 */
export async function openEmbedder(
  over: { model?: string; log?: (msg: string) => void } = {},
): Promise<{ client: EmbeddingClient; cache: string; close: () => Promise<void> }> {
  const settings = { ...embeddingSettingsFromEnv(), ...(over.model ? { model: over.model } : {}) };
  let cache: EmbeddingCache = new MemoryEmbeddingCache();
  let kind = 'memory';
  let pool: pg.Pool | undefined;
  if (settings.cache === 'postgres') {
    pool = new pg.Pool({ connectionString: loadConfig().postgres.url, max: 2, connectionTimeoutMillis: 5_000 });
    pool.on('error', () => {});
    const pgc = new PgEmbeddingCache(pool, { maxRows: settings.cacheMaxRows });
    const ok = await pgc.available().catch(() => false);
    if (ok) {
      cache = pgc;
      kind = 'postgres';
    } else {
      over.log?.('embedding cache: PostgreSQL table embedding_cache unavailable, using an in-process cache');
      await pool.end();
      pool = undefined;
    }
  }
  const client = new EmbeddingClient(settings, { cache });
  return { client, cache: kind, close: async () => void (await pool?.end()) };
}

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
