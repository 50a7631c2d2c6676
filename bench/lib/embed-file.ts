// Embeddings of the dev files for the quality benches, through the product's EmbeddingClient and its
// cache interface: the cache is the client's MemoryEmbeddingCache, persisted to one file under
// .feedlog/cache/ between runs (a snapshot of the same cache, keyed by model identity + text), so
// a rerun of any bench sends nothing to the embedder. The shared PostgreSQL cache works the same way
// when migration 0006 is applied (EMBED_CACHE=postgres in the stage).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type CachedEmbedding,
  type EmbeddingCache,
  EmbeddingClient,
  embeddingSettings,
  embeddingText,
  MemoryEmbeddingCache,
} from '../../processors/embed/src/index.ts';

// FEEDLOG_EMBED_CACHE_DIR moves the snapshot (e.g. /tmp/classifier/ for experiments)
const dir = process.env.FEEDLOG_EMBED_CACHE_DIR
  ? `${process.env.FEEDLOG_EMBED_CACHE_DIR.replace(/\/$/, '')}/`
  : fileURLToPath(new URL('../../.feedlog/cache/', import.meta.url));

/** A MemoryEmbeddingCache loaded from / saved to `.feedlog/cache/emb-<model>.json`. */
class FileSnapshotCache implements EmbeddingCache {
  readonly mem = new MemoryEmbeddingCache(1_000_000);
  private readonly entries: { model: string; text: string; v: string; n: boolean; s: string }[] = [];
  constructor(readonly file: string) {}
  async load(): Promise<void> {
    if (!existsSync(this.file)) return;
    // another bench may be rewriting the file: a torn read is retried once
    const read = () => JSON.parse(readFileSync(this.file, 'utf8')) as typeof this.entries;
    let rows: typeof this.entries;
    try {
      rows = read();
    } catch {
      await new Promise((r) => setTimeout(r, 2000));
      rows = read();
    }
    for (const r of rows) {
      this.entries.push(r);
      const vector = new Float32Array(new Uint8Array(Buffer.from(r.v, 'base64')).buffer);
      await this.mem.putMany(r.model, [{ text: r.text, embedding: { vector, normalized: r.n, servedModel: r.s } }]);
    }
  }
  getMany(model: string, texts: readonly string[]) {
    return this.mem.getMany(model, texts);
  }
  async putMany(model: string, entries: readonly { text: string; embedding: CachedEmbedding }[]) {
    for (const e of entries) {
      const v = Buffer.from(new Uint8Array(Float32Array.from(e.embedding.vector).buffer)).toString('base64');
      this.entries.push({ model, text: e.text, v, n: e.embedding.normalized, s: e.embedding.servedModel });
    }
    await this.mem.putMany(model, entries);
  }
  save(): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${this.file}.tmp`, JSON.stringify(this.entries));
    renameSync(`${this.file}.tmp`, this.file);
  }
  async close() {}
}

export interface EmbedAllResult {
  vectors: Float32Array[];
  /** texts that had to be sent to the embedder this run */
  sent: number;
  seconds: number;
}

/** Unit vectors for `texts` (normalised by `embeddingText`), embedding only what the file lacks. */
export async function embedAll(
  texts: string[],
  model = process.env.EMBEDDING_MODEL ?? 'all-MiniLM-L6-v2-int8',
): Promise<EmbedAllResult> {
  const cache = new FileSnapshotCache(`${dir}emb-${model}.json`);
  await cache.load();
  const settings = embeddingSettings({
    baseUrl: process.env.EMBEDDING_BASE_URL ?? 'http://127.0.0.1:8090/v1',
    model,
    batchSize: 64,
    concurrency: 2,
    // a loaded shared machine makes the embedder slow: EMBED_TIMEOUT_MS lengthens the per-request limit
    ...(process.env.EMBED_TIMEOUT_MS ? { timeoutMs: Number(process.env.EMBED_TIMEOUT_MS) } : {}),
  });
  const client = new EmbeddingClient(settings, { cache });
  const norm = texts.map((t) => embeddingText({ title: t, summary: null }));
  const t0 = performance.now();
  const vectors: Float32Array[] = [];
  let sent = 0;
  for (let i = 0; i < norm.length; i += 512) {
    const r = await client.embed(norm.slice(i, i + 512));
    sent += r.results.length - r.cacheHits;
    for (const e of r.results) {
      if (e instanceof Error) throw e;
      vectors.push(e.vector);
    }
    if (r.cacheHits < r.results.length) {
      cache.save();
      process.stderr.write(`  embedded ${Math.min(i + 512, norm.length)}/${norm.length}\n`);
    }
  }
  return { vectors, sent, seconds: (performance.now() - t0) / 1000 };
}
