import type { SearchHit, VectorIndex } from '@feedlog/index';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { QueryEmbedder } from '../src/plugins/embedder.ts';
import { READ_KEY, testApp } from './helpers.ts';

// GET /v1/search's PostgreSQL round trips and its serving state (issue 14): one statement per
// search while the serving generation stays put, and never a query embedded by one model searched
// in a generation of another, whichever statement sees a flip first. A scripted pool, index and
// embedder (the route against real PostgreSQL: read.it.test.ts; across a real replay: model-swap.it).

interface World {
  generation: number | null;
  model: string | null;
}

/** a pool answering the route's statements from `world`, recording each statement's kind */
function scriptedPool(world: World) {
  const statements: string[] = [];
  const pool = {
    async query(textOrConfig: string | { text: string; values?: unknown[] }, values?: unknown[]) {
      const text = typeof textOrConfig === 'string' ? textOrConfig : textOrConfig.text;
      const params = typeof textOrConfig === 'string' ? values : textOrConfig.values;
      if (text.includes('to_regclass')) {
        statements.push('regclass');
        return { rows: [{ t: 'generations' }] };
      }
      if (text.includes('json_agg')) {
        statements.push('rows');
        const ids = (params?.[0] ?? []) as string[];
        return {
          rows: [
            {
              generation: world.generation,
              model_name: world.model,
              rows: ids.map((id) => ({
                item_id: id,
                title: `row ${id}`,
                url: `https://example.com/${id}`,
                source: 'ap',
                summary: null,
                published_at: null,
                category: 'b',
                confidence: 0.9,
                story_id: null,
                story_size: null,
                story_title: null,
              })),
            },
          ],
        };
      }
      if (text.includes("i.stage = 'index' AND i.serving")) {
        statements.push('serving');
        return { rows: [{ generation: world.generation, collection: null, model_name: world.model }] };
      }
      throw new Error(`unexpected statement ${text.slice(0, 80)}`);
    },
    async end() {},
  };
  return { pool: pool as unknown as pg.Pool, statements };
}

/** an index whose generation N holds one item `g<N>`; it records which generation each vector was searched in */
function scriptedIndex(alias: { generation: number }) {
  const searched: { generation: number | string; vector: number }[] = [];
  const index: Pick<VectorIndex, 'search' | 'servingGeneration' | 'close'> = {
    async search(target, vector) {
      const g = typeof target === 'number' ? target : alias.generation;
      searched.push({ generation: g, vector: Array.from(vector)[0] as number });
      return [{ itemId: `g${g}`, score: 1, payload: {} } as unknown as SearchHit];
    },
    async servingGeneration() {
      return alias.generation;
    },
    async close() {},
  };
  return { index: index as VectorIndex, searched };
}

/** model A's vectors start with 1, model B's with 2 */
const embedder: QueryEmbedder = {
  async embed(_text, model) {
    return Float32Array.from([model === 'model-b' ? 2 : 1, 0]);
  },
  async check() {},
};

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function search(q: string) {
  const r = await app!.inject({ method: 'GET', url: `/v1/search?q=${q}`, headers: { 'x-api-key': READ_KEY } });
  expect(r.statusCode, r.body).toBe(200);
  return r.json() as { model: string; generation: number | null; results: { item: { item_id: string } }[] };
}

describe('GET /v1/search: PostgreSQL round trips and the serving state', () => {
  it('reads what serves once, then one statement per search (the row read confirms it)', async () => {
    const world: World = { generation: 1, model: 'model-a' };
    const { pool, statements } = scriptedPool(world);
    const { index } = scriptedIndex({ generation: 1 });
    ({ app } = await testApp({ pool, index, embedder, queryCache: false, closeDependencies: false }));
    for (let i = 0; i < 5; i++) expect((await search(`q${i}`)).generation).toBe(1);
    expect(statements).toEqual(['regclass', 'serving', 'rows', 'rows', 'rows', 'rows', 'rows']);
  });

  it('a flip seen by the row read first: the search runs again with the new model in the new generation', async () => {
    const world: World = { generation: 1, model: 'model-a' };
    const { pool, statements } = scriptedPool(world);
    const { index, searched } = scriptedIndex({ generation: 1 });
    ({ app } = await testApp({ pool, index, embedder, queryCache: false, closeDependencies: false }));
    expect(await search('before')).toMatchObject({ model: 'model-a', generation: 1 });
    // the replay flips: generation 2, embedded by model B
    Object.assign(world, { generation: 2, model: 'model-b' });
    statements.length = 0;
    searched.length = 0;
    const after = await search('after');
    expect(after).toMatchObject({ model: 'model-b', generation: 2 });
    expect(after.results.map((r) => r.item.item_id)).toEqual(['g2']);
    // the remembered state (A, 1) was used once, the row read showed the flip, the search ran again
    expect(searched).toEqual([
      { generation: 1, vector: 1 },
      { generation: 2, vector: 2 },
    ]);
    expect(statements).toEqual(['rows', 'rows']);
    // then one statement per search again, with B in 2
    statements.length = 0;
    searched.length = 0;
    await search('again');
    expect(searched).toEqual([{ generation: 2, vector: 2 }]);
    expect(statements).toEqual(['rows']);
  });

  it('a generation dropped after a flip nobody searched across: the search reads what serves and runs again', async () => {
    const world: World = { generation: 1, model: 'model-a' };
    const { pool } = scriptedPool(world);
    const alias = { generation: 1 };
    const { index, searched } = scriptedIndex(alias);
    const search1 = index.search.bind(index);
    index.search = async (target, vector, opts) => {
      if (target === 1 && world.generation !== 1) throw Object.assign(new Error('gone'), { name: 'IndexUsageError' });
      return search1(target, vector, opts);
    };
    ({ app } = await testApp({ pool, index, embedder, queryCache: false, closeDependencies: false }));
    await search('before');
    Object.assign(world, { generation: 2, model: 'model-b' });
    searched.length = 0;
    expect(await search('after')).toMatchObject({ model: 'model-b', generation: 2 });
    expect(searched).toEqual([{ generation: 2, vector: 2 }]);
  });

  it('servingTtlMs 0: what serves is read before every search', async () => {
    const world: World = { generation: 3, model: 'model-a' };
    const { pool, statements } = scriptedPool(world);
    const { index } = scriptedIndex({ generation: 3 });
    ({ app } = await testApp({
      pool,
      index,
      embedder,
      queryCache: false,
      closeDependencies: false,
      search: { servingTtlMs: 0 },
    }));
    await search('a');
    await search('b');
    expect(statements).toEqual(['regclass', 'serving', 'rows', 'serving', 'rows']);
  });

  it('before any replay (no serving index row): the alias names the generation, read per search', async () => {
    const world: World = { generation: null, model: null };
    const { pool, statements } = scriptedPool(world);
    const alias = { generation: 1 };
    const { index, searched } = scriptedIndex(alias);
    ({ app } = await testApp({ pool, index, embedder, queryCache: false, closeDependencies: false }));
    expect(await search('a')).toMatchObject({ model: 'all-MiniLM-L6-v2-int8', generation: 1 });
    alias.generation = 2;
    expect(await search('b')).toMatchObject({ generation: 2 });
    expect(searched.map((s) => s.generation)).toEqual([1, 2]);
    expect(statements).toEqual(['regclass', 'serving', 'rows', 'rows']);
  });
});
