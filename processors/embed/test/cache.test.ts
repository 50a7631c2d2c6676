import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CachedEmbedding,
  cacheKey,
  cacheModelId,
  type EmbeddingCache,
  MemoryEmbeddingCache,
} from '../src/cache.ts';
import { type Embedding, EmbeddingClient } from '../src/client.ts';
import { type EmbeddingSettings, embeddingSettings } from '../src/config.ts';
import { ScriptedServer } from './scripted-server.ts';

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(cache: EmbeddingCache, over: Partial<EmbeddingSettings> = {}) {
  const server = await ScriptedServer.start();
  servers.push(server);
  const registry = new Registry();
  const settings = embeddingSettings({ baseUrl: server.baseUrl, model: 'test-model', batchSize: 8, ...over });
  return { server, registry, client: new EmbeddingClient(settings, { registry, cache }) };
}

async function counter(registry: Registry, name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).reduce((a, v) => a + v.value, 0);
}

const texts = (n: number, tag = '') => Array.from({ length: n }, (_, i) => `headline ${tag}${i}`);
const sent = (s: ScriptedServer) => s.log.reduce((a, l) => a + l.input.length, 0);
const vectors = (r: (Embedding | Error)[]) =>
  r.map((e) => {
    if (e instanceof Error) throw e;
    return Array.from(e.vector);
  });

describe('embedding cache in the client', () => {
  it('a second pass over the same texts sends nothing and yields the same vectors; hits and misses are counted', async () => {
    const cache = new MemoryEmbeddingCache();
    const { server, registry, client } = await setup(cache);
    const input = texts(20);
    const first = await client.embed(input);
    expect(sent(server)).toBe(20);
    expect(first.cacheHits).toBe(0);
    const second = await client.embed(input);
    expect(sent(server)).toBe(20);
    expect(second.cacheHits).toBe(20);
    expect(second.requests).toBe(0);
    expect(second.servedModel).toBe(first.servedModel);
    expect(vectors(second.results)).toEqual(vectors(first.results));
    expect(await counter(registry, 'embedding_cache_hits_total')).toBe(20);
    expect(await counter(registry, 'embedding_cache_misses_total')).toBe(20);
    // a partial overlap sends only the new texts
    await client.embed([...input.slice(0, 5), ...texts(3, 'new ')]);
    expect(sent(server)).toBe(23);
  });

  it('a text repeated within a batch is sent once; every record still gets its own vector', async () => {
    const { server, client } = await setup(new MemoryEmbeddingCache());
    const r = await client.embed(['same', 'other', 'same', 'same']);
    expect(server.log.flatMap((l) => l.input)).toEqual(['same', 'other']);
    const [a, , c] = r.results as Embedding[];
    expect(Array.from(c!.vector)).toEqual(Array.from(a!.vector));
    expect(c!.vector).not.toBe(a!.vector);
  });

  it('another model, version or output size misses', async () => {
    const cache = new MemoryEmbeddingCache();
    const a = await setup(cache, { model: 'model-a' });
    await a.client.embed(texts(4));
    for (const over of [
      { model: 'model-b' },
      { model: 'model-a', modelVersion: '2' },
      { model: 'model-a', dimensions: 8 },
    ]) {
      const b = await setup(cache, over);
      const r = await b.client.embed(texts(4));
      expect(r.cacheHits).toBe(0);
      expect(sent(b.server)).toBe(4);
    }
    expect(cacheModelId({ model: 'm', modelVersion: undefined, dimensions: undefined })).toBe('m||native');
    expect(cacheKey('m', 'x').equals(cacheKey('m', 'x'))).toBe(true);
    expect(cacheKey('m', 'x').equals(cacheKey('m2', 'x'))).toBe(false);
    // the separator keeps (model, text) pairs apart: "ab"+"c" is not "a"+"bc"
    expect(cacheKey('ab', 'c').equals(cacheKey('a', 'bc'))).toBe(false);
  });

  it('a failing cache is bypassed and counted: the texts are embedded anyway', async () => {
    const broken: EmbeddingCache = {
      getMany: async () => {
        throw new Error('connection refused');
      },
      putMany: async () => {
        throw new Error('connection refused');
      },
      close: async () => {},
    };
    const { server, registry, client } = await setup(broken);
    const r = await client.embed(texts(3));
    expect(r.results.every((e) => !(e instanceof Error))).toBe(true);
    expect(sent(server)).toBe(3);
    const m = await registry.getSingleMetric('embedding_cache_errors_total')?.get();
    expect(m?.values.map((v) => [v.labels.op, v.value])).toEqual([
      ['get', 1],
      ['put', 1],
    ]);
  });

  it('a cached vector of other dimensions than the endpoint gives is treated as a miss', async () => {
    const cache = new MemoryEmbeddingCache();
    const { server, client } = await setup(cache);
    await client.embed(['warm up']);
    const wrong: CachedEmbedding = { vector: new Float32Array(3).fill(0.5), normalized: false, servedModel: 'x' };
    await cache.putMany(client.cacheModel, [{ text: 'odd', embedding: wrong }]);
    const r = await client.embed(['odd']);
    expect(r.cacheHits).toBe(0);
    expect(sent(server)).toBe(2);
  });

  it('MemoryEmbeddingCache is bounded, least recently used out first, and hands out copies', async () => {
    const cache = new MemoryEmbeddingCache(3);
    const e = (x: number): CachedEmbedding => ({ vector: Float32Array.of(x), normalized: false, servedModel: 'm' });
    await cache.putMany('m', [
      { text: 'a', embedding: e(1) },
      { text: 'b', embedding: e(2) },
      { text: 'c', embedding: e(3) },
    ]);
    await cache.getMany('m', ['a']); // a is now the most recently used
    await cache.putMany('m', [{ text: 'd', embedding: e(4) }]);
    expect(cache.size).toBe(3);
    const got = await cache.getMany('m', ['a', 'b', 'c', 'd']);
    expect(got.map((g) => g?.vector[0])).toEqual([1, undefined, 3, 4]);
    got[0]!.vector[0] = 99;
    expect((await cache.getMany('m', ['a']))[0]!.vector[0]).toBe(1);
  });
});
