import { LRUCache } from 'lru-cache';
import type { QueryEmbedder } from './plugins/embedder.ts';

export interface QueryCacheOptions {
  /** query vectors kept (default 2,000: a 384-dim vector is 1.5 kB, so about 3 MB) */
  max?: number;
  /** how long a vector is kept, ms (default 1 h; a model is immutable, so this only bounds memory of one-off queries) */
  ttlMs?: number;
}

/**
 * Query embeddings, cached and coalesced (issue 14): the same text under the same model is the
 * same vector, so a repeated query does not go back to the embedder, and identical queries
 * arriving together make one embedder call (lru-cache's fetch shares the pending promise). The
 * key is model + text, so a model swap never serves an old model's vector. A failed call is not
 * cached: the next query tries again.
 */
export class CachedQueryEmbedder implements QueryEmbedder {
  private readonly cache: LRUCache<string, Float32Array, { text: string; model: string }>;
  /** calls that reached the embedder (misses, coalesced ones counted once) */
  misses = 0;

  constructor(
    private readonly inner: QueryEmbedder,
    opts: QueryCacheOptions = {},
  ) {
    this.cache = new LRUCache({
      max: opts.max ?? 2_000,
      ttl: opts.ttlMs ?? 3_600_000,
      fetchMethod: async (_key, _stale, { context }) => {
        this.misses++;
        return this.inner.embed(context.text, context.model);
      },
    });
  }

  async embed(text: string, model: string): Promise<Float32Array> {
    // NUL cannot occur in a model name, so the key is unambiguous
    const v = await this.cache.fetch(`${model}\u0000${text}`, { context: { text, model } });
    if (!v) throw new Error('the embedder answered without an embedding');
    return v;
  }

  check(): Promise<void> {
    return this.inner.check();
  }
}
