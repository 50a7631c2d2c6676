import { createHash } from 'node:crypto';
import type { EmbeddingSettings } from './config.ts';

/** A cached embedding: what the endpoint answered for one text, as the client returned it. */
export interface CachedEmbedding {
  vector: Float32Array;
  normalized: boolean;
  /** the model the endpoint said it ran when the vector was made */
  servedModel: string;
}

/**
 * Where embeddings outlive a run: keyed by (model identity, the exact text sent), so a text is
 * embedded once per model, whichever process, generation or stage asks. Implementations never
 * throw for a missing entry; a failing store may throw, and the client then carries on uncached.
 */
export interface EmbeddingCache {
  /** per text, same order: the cached embedding, or undefined on a miss */
  getMany(model: string, texts: readonly string[]): Promise<(CachedEmbedding | undefined)[]>;
  /** store embeddings just made (an entry already there is kept: same key, same vector) */
  putMany(model: string, entries: readonly { text: string; embedding: CachedEmbedding }[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The model identity the cache keys on: everything that changes the vector of a given text
 * besides the text. A new model name, version or output size is a different identity, so it
 * misses. A model swapped behind an unchanged name and version cannot be seen from here: set
 * EMBEDDING_MODEL_VERSION when a provider reuses names.
 */
export function cacheModelId(s: Pick<EmbeddingSettings, 'model' | 'modelVersion' | 'dimensions'>): string {
  return `${s.model}|${s.modelVersion ?? ''}|${s.dimensions ?? 'native'}`;
}

/**
 * sha256(model identity ‖ 0x00 ‖ text), 32 bytes. The text is the one the client sends, already
 * normalised by `embeddingText` (NFC, whitespace collapsed, capped), so equal headlines share a key.
 */
export function cacheKey(model: string, text: string): Buffer {
  return createHash('sha256').update(model, 'utf8').update('\0').update(text, 'utf8').digest();
}

/**
 * An in-process cache bounded to `maxEntries` (least recently used evicted): tests, benches, and
 * a process that wants no PostgreSQL. Not shared and lost on exit; PgEmbeddingCache is both.
 */
export class MemoryEmbeddingCache implements EmbeddingCache {
  private readonly map = new Map<string, CachedEmbedding>();
  constructor(readonly maxEntries = 100_000) {}

  get size(): number {
    return this.map.size;
  }

  async getMany(model: string, texts: readonly string[]): Promise<(CachedEmbedding | undefined)[]> {
    return texts.map((t) => {
      const k = cacheKey(model, t).toString('base64');
      const hit = this.map.get(k);
      if (hit) {
        // Map keeps insertion order: re-inserting makes it the most recently used
        this.map.delete(k);
        this.map.set(k, hit);
      }
      return hit && copy(hit);
    });
  }

  async putMany(model: string, entries: readonly { text: string; embedding: CachedEmbedding }[]): Promise<void> {
    for (const { text, embedding } of entries) {
      const k = cacheKey(model, text).toString('base64');
      if (this.map.has(k)) continue;
      this.map.set(k, copy(embedding));
      if (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value as string);
    }
  }

  async close(): Promise<void> {}
}

/** callers own what they get: a cached vector must not change when a caller normalises its copy */
function copy(e: CachedEmbedding): CachedEmbedding {
  return { vector: Float32Array.from(e.vector), normalized: e.normalized, servedModel: e.servedModel };
}
