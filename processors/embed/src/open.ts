import { loadConfig } from '@feedlog/common';
import pg from 'pg';
import { type EmbeddingCache, MemoryEmbeddingCache } from './cache.ts';
import { EmbeddingClient } from './client.ts';
import { embeddingSettingsFromEnv } from './config.ts';
import { PgEmbeddingCache } from './pg-cache.ts';

/**
 * The embedding client of the embed stage's configuration (used by the cluster and classify stages too) (EMBEDDING_* / EMBED_* variables), with
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
