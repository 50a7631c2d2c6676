// The embedding cache on the real local embedder (both models) and real PostgreSQL (a schema of
// its own, migrated): a second pass from another "process" (new pool, new cache, new client) sends
// no text to the embedder and gets byte-identical vectors; another model misses; the table stays
// within its bound, least recently used out first.
import { readFileSync } from 'node:fs';
import { loadConfig } from '@feedlog/common';
import { migrate } from '@feedlog/migrations';
import { vectorToBytes } from '@feedlog/schemas';
import { testSchema } from '@feedlog/test';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Embedding, EmbeddingClient } from '../src/client.ts';
import { embeddingSettings } from '../src/config.ts';
import { PgEmbeddingCache } from '../src/pg-cache.ts';
import { embeddingText } from '../src/text.ts';

const MODEL_A = 'all-MiniLM-L6-v2-int8';
const MODEL_B = 'paraphrase-MiniLM-L3-v2';
const baseUrl = process.env.EMBEDDING_BASE_URL ?? loadConfig().embedder.baseUrl;

const fixture = JSON.parse(readFileSync(new URL('../fixtures/paraphrases.json', import.meta.url), 'utf8')) as {
  pairs: { title: string; summary: string; paraphrase: string }[];
};
// titles, title+summary, paraphrases, shaped as the stage shapes them; distinct
const texts = [
  ...new Set(
    fixture.pairs.flatMap((p) => [
      embeddingText({ title: p.title, summary: null }),
      embeddingText({ title: p.title, summary: p.summary }),
      embeddingText({ title: p.paraphrase, summary: null }),
    ]),
  ),
];

let db: Awaited<ReturnType<typeof testSchema>>;
const pools: pg.Pool[] = [];

/** a pool on the test's schema, as another process would open one */
function poolOnSchema(): pg.Pool {
  const url = process.env.DATABASE_URL ?? loadConfig().postgres.url;
  const p = new pg.Pool({ connectionString: url, max: 2, options: `-c search_path=${db.schema}` });
  pools.push(p);
  return p;
}

function client(model: string, cache: PgEmbeddingCache) {
  const registry = new Registry();
  const c = new EmbeddingClient(embeddingSettings({ baseUrl, model, batchSize: 32, concurrency: 2 }), {
    registry,
    cache,
  });
  const sentTexts = async () =>
    ((await registry.getSingleMetric('embedding_inputs_total')?.get())?.values ?? []).reduce((a, v) => a + v.value, 0);
  return { c, sentTexts };
}

const bytesOf = (r: (Embedding | Error)[]) =>
  r.map((e) => {
    if (e instanceof Error) throw e;
    return vectorToBytes(e.vector).toString('base64');
  });

beforeAll(async () => {
  db = await testSchema('embedcache');
  await migrate(db.pool);
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await db?.drop();
});

describe('embedding cache on the real embedder and PostgreSQL', () => {
  it('second pass: 0 texts to the embedder, identical vectors; a new model misses; bounded, LRU out first', async () => {
    expect(texts.length).toBeGreaterThan(40);
    const first = client(MODEL_A, new PgEmbeddingCache(poolOnSchema()));
    const r1 = await first.c.embed(texts);
    expect(await first.sentTexts()).toBe(texts.length);
    expect(r1.cacheHits).toBe(0);

    // another process, after a restart: a new pool, cache and client on the same table
    const second = client(MODEL_A, new PgEmbeddingCache(poolOnSchema()));
    const r2 = await second.c.embed(texts);
    expect(await second.sentTexts()).toBe(0);
    expect(r2.cacheHits).toBe(texts.length);
    expect(r2.requests).toBe(0);
    expect(bytesOf(r2.results)).toEqual(bytesOf(r1.results));
    expect(r2.servedModel).toBe(r1.servedModel);

    // a new model: every text misses and is embedded by that model; the table now holds both
    const bounded = new PgEmbeddingCache(poolOnSchema(), { maxRows: texts.length, evictEveryMs: 0 });
    const other = client(MODEL_B, bounded);
    const r3 = await other.c.embed(texts);
    expect(r3.cacheHits).toBe(0);
    expect(await other.sentTexts()).toBe(texts.length);
    expect(bytesOf(r3.results)).not.toEqual(bytesOf(r1.results));

    // the write that brought it over the bound evicted the least recently used: model A's rows
    const rows = await db.pool.query<{ model: string; n: string }>(
      'SELECT model, count(*)::bigint AS n FROM embedding_cache GROUP BY model',
    );
    expect(rows.rows.map((r) => [r.model, Number(r.n)])).toEqual([[other.c.cacheModel, texts.length]]);
    const again = client(MODEL_A, new PgEmbeddingCache(poolOnSchema()));
    expect((await again.c.embed(texts.slice(0, 5))).cacheHits).toBe(0);
    expect(await again.sentTexts()).toBe(5);
  });

  it('concurrent writers of the same texts end with one row per text', async () => {
    const caches = [0, 1, 2].map(() => new PgEmbeddingCache(poolOnSchema()));
    const model = `race-${Date.now()}`;
    const entries = texts.slice(0, 20).map((text, i) => ({
      text,
      embedding: { vector: Float32Array.of(i, 1, 2), normalized: false, servedModel: model },
    }));
    await Promise.all(caches.map((c) => c.putMany(model, entries)));
    const n = await db.pool.query<{ n: string }>('SELECT count(*)::bigint AS n FROM embedding_cache WHERE model = $1', [
      model,
    ]);
    expect(Number(n.rows[0]!.n)).toBe(20);
    const got = await caches[0]!.getMany(model, [texts[3]!, 'never stored']);
    expect(Array.from(got[0]!.vector)).toEqual([3, 1, 2]);
    expect(got[1]).toBeUndefined();
  });

  it('eviction is least recently used, not oldest written: a read refreshes used_at', async () => {
    const model = `lru-${Date.now()}`;
    const entry = (text: string) => ({
      text,
      embedding: { vector: Float32Array.of(1, 2), normalized: false, servedModel: model },
    });
    const writer = new PgEmbeddingCache(poolOnSchema(), { evictEveryMs: Number.POSITIVE_INFINITY });
    await db.pool.query('DELETE FROM embedding_cache');
    await writer.putMany(model, ['old-1', 'old-2'].map(entry));
    await db.pool.query(`UPDATE embedding_cache SET used_at = now() - interval '2 hours'`);
    await writer.putMany(model, ['new-1', 'new-2'].map(entry));
    // a hit on rows older than touchAfterMs (1 h by default) refreshes them
    expect((await writer.getMany(model, ['old-1', 'old-2'])).every(Boolean)).toBe(true);
    const bounded = new PgEmbeddingCache(poolOnSchema(), { maxRows: 2 });
    expect(await bounded.evict()).toBe(2);
    const left = await bounded.getMany(model, ['old-1', 'old-2', 'new-1', 'new-2']);
    expect(left.map(Boolean)).toEqual([true, true, false, false]);
  });
});
