// CONTRACT TEST — not an integration test. No Qdrant server runs here: a small recording HTTP
// server on 127.0.0.1 answers with canned Qdrant-shaped responses and records the requests the real
// @qdrant/js-client-rest sends for each VectorIndex operation. The assertions check paths, methods,
// query strings and bodies against Qdrant's documented REST API (api.qdrant.tech, v1.17/1.18):
//   PUT  /collections/{name}                      CreateCollection {vectors:{size,distance}}
//   PUT  /collections/{name}/index?wait=true      CreateFieldIndex {field_name, field_schema}
//   PUT  /collections/{name}/points?wait=true     PointInsertOperations {points:[{id,vector,payload}]}
//   POST /collections/{name}/points/delete?wait=true  PointsSelector {points:[ids]}
//   POST /collections/{name}/points/query         QueryRequest {query, limit, offset, filter, with_payload}
//   POST /collections/aliases                     ChangeAliasesOperation {actions:[{delete_alias},{create_alias}]}
//   GET  /aliases, DELETE /collections/{name}, POST /collections/{name}/points/count
// Failures are answered as Qdrant 1.x does (lib/storage content_manager: StorageError → HTTP):
//   {"status":{"error":"Not found: Collection `x` doesn't exist!"},"time":…} with 404 for a query on
//   a name that is neither a collection nor an alias, and for a create_alias on a missing collection
//   (after applying the actions before it: Qdrant persists each alias action as it goes);
//   {"status":{"error":"Wrong input: Collection `x` already exists!"},"time":…} with 409 for a PUT
//   of an existing collection.
// The real-server tests are in qdrant.it.test.ts (run when QDRANT_URL is set).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedIndex } from '../src/embedded.ts';
import { ITEM_ID_NAMESPACE, pointId, QdrantIndex } from '../src/qdrant.ts';
import type { IndexPoint, VectorIndex } from '../src/types.ts';

interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

const recorded: Recorded[] = [];
let aliases: { alias_name: string; collection_name: string }[] = [];
const existing = new Set<string>();
/** collections another instance creates between our exists check and our create (the race) */
const createdBehindOurBack = new Set<string>();

const notFound = (name: string) => ({
  status: 404,
  body: { status: { error: `Not found: Collection \`${name}\` doesn't exist!` }, time: 0.0001 },
});
const resolves = (name: string) => existing.has(name) || aliases.some((a) => a.alias_name === name);

const ok = (result: unknown) => ({ result, status: 'ok', time: 0.0001 });

function respond(req: Recorded): { status: number; body: unknown } {
  const { method, path } = req;
  const parts = /^\/collections\/([^/]+)(\/.*)?$/.exec(path);
  const name = parts?.[1] ?? '';
  const single = parts !== null && parts[2] === undefined && name !== 'aliases';
  if (method === 'GET' && parts?.[2] === '/exists') {
    if (createdBehindOurBack.delete(name)) {
      existing.add(name);
      return { status: 200, body: ok({ exists: false }) };
    }
    return { status: 200, body: ok({ exists: existing.has(name) }) };
  }
  if (method === 'PUT' && single) {
    if (existing.has(name))
      return {
        status: 409,
        body: { status: { error: `Wrong input: Collection \`${name}\` already exists!` }, time: 0.0001 },
      };
    existing.add(name);
    return { status: 200, body: ok(true) };
  }
  if (method === 'GET' && single)
    return {
      status: 200,
      body: ok({
        status: 'green',
        optimizer_status: 'ok',
        segments_count: 1,
        points_count: 0,
        indexed_vectors_count: 0,
        config: {
          params: { vectors: { size: 4, distance: 'Cosine' }, shard_number: 1, replication_factor: 1 },
          hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000 },
          optimizer_config: {},
          wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
        },
        payload_schema: {},
      }),
    };
  if (method === 'DELETE' && single) {
    existing.delete(name);
    return { status: 200, body: ok(true) };
  }
  if (method === 'PUT' && /^\/collections\/[^/]+\/index$/.test(path))
    return { status: 200, body: ok({ operation_id: 1, status: 'completed' }) };
  if (method === 'PUT' && /^\/collections\/[^/]+\/points$/.test(path))
    return { status: 200, body: ok({ operation_id: 2, status: 'completed' }) };
  if (method === 'POST' && /^\/collections\/[^/]+\/points\/delete$/.test(path))
    return { status: 200, body: ok({ operation_id: 3, status: 'completed' }) };
  if (method === 'POST' && /^\/collections\/[^/]+\/points\/count$/.test(path))
    return { status: 200, body: ok({ count: 2 }) };
  if (method === 'POST' && /^\/collections\/[^/]+\/points\/query$/.test(path) && !resolves(name)) return notFound(name);
  if (method === 'POST' && /^\/collections\/[^/]+\/points\/query$/.test(path))
    return {
      status: 200,
      body: ok({
        points: [
          {
            id: pointId('item-a'),
            version: 2,
            score: 0.93,
            payload: {
              item_id: 'item-a',
              title: 'A',
              url: 'https://x/a',
              source: 's',
              category: 'world',
              story_id: 'st1',
              published_at: 1_700_000_000_000,
            },
          },
        ],
      }),
    };
  if (method === 'POST' && path === '/collections/aliases') {
    for (const a of (req.body as { actions: Record<string, { alias_name: string; collection_name?: string }>[] })
      .actions) {
      if (a.delete_alias) aliases = aliases.filter((x) => x.alias_name !== a.delete_alias!.alias_name);
      if (a.create_alias && !existing.has(a.create_alias.collection_name!))
        return notFound(a.create_alias.collection_name!);
      if (a.create_alias)
        aliases.push({ alias_name: a.create_alias.alias_name, collection_name: a.create_alias.collection_name! });
    }
    return { status: 200, body: ok(true) };
  }
  if (method === 'GET' && path === '/aliases') return { status: 200, body: ok({ aliases }) };
  return { status: 404, body: { status: { error: `no route ${method} ${path}` }, time: 0 } };
}

/** the responder in use; a test may wrap it to change the server's state mid-call */
const respondHook = { current: respond };

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

let server: Server;
let index: QdrantIndex;

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rec: Recorded = {
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: await readBody(req),
    };
    recorded.push(rec);
    const out = respondHook.current(rec);
    res.writeHead(out.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(out.body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  index = new QdrantIndex({ url: `http://127.0.0.1:${port}` });
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  recorded.length = 0;
});

const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('Qdrant REST contract (recording server, not a real Qdrant)', () => {
  it('ensureGeneration: exists check, PUT /collections/headlines_g3, then a payload index per filter field', async () => {
    await index.ensureGeneration(3, 4, 'cosine');
    expect(recorded.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /collections/headlines_g3/exists',
      'PUT /collections/headlines_g3',
      'PUT /collections/headlines_g3/index',
      'PUT /collections/headlines_g3/index',
      'PUT /collections/headlines_g3/index',
      'PUT /collections/headlines_g3/index',
    ]);
    expect(recorded[1]!.body).toEqual({ vectors: { size: 4, distance: 'Cosine' } });
    expect(recorded.slice(2).map((r) => r.body)).toEqual([
      { field_name: 'category', field_schema: 'keyword' },
      { field_name: 'source', field_schema: 'keyword' },
      { field_name: 'story_id', field_schema: 'keyword' },
      { field_name: 'published_at', field_schema: 'integer' },
    ]);
    for (const r of recorded.slice(2)) expect(r.query.wait).toBe('true');

    // a second call finds it and checks its vector config instead of creating it again
    recorded.length = 0;
    await index.ensureGeneration(3, 4, 'cosine');
    expect(recorded.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /collections/headlines_g3/exists',
      'GET /collections/headlines_g3',
    ]);
    await expect(index.ensureGeneration(3, 8, 'cosine')).rejects.toThrow(/exists with 4 dims/);
  });

  it('upsert: PUT /points?wait=true with UUID v5 ids of the item ids, the vector, item_id in the payload', async () => {
    const p = (id: string, x: number): IndexPoint => ({
      itemId: id,
      vector: Float32Array.from([x, 0, 0, 1]),
      payload: { title: id, url: `https://x/${id}`, source: 's', category: 'world', story_id: 'st', published_at: 5 },
    });
    await index.upsert(3, [p('item-a', 1), p('item-b', 2), p('item-a', 3)]);
    expect(recorded).toHaveLength(1);
    const r = recorded[0]!;
    expect(`${r.method} ${r.path}`).toBe('PUT /collections/headlines_g3/points');
    expect(r.query.wait).toBe('true');
    const body = r.body as { points: { id: string; vector: number[]; payload: Record<string, unknown> }[] };
    // re-delivery within a batch collapses to one point per item (last wins)
    expect(body.points.map((x) => x.id)).toEqual([pointId('item-a'), pointId('item-b')]);
    for (const x of body.points) expect(x.id).toMatch(uuidRe);
    expect(body.points[0]!.vector).toEqual([3, 0, 0, 1]);
    expect(body.points[0]!.payload).toEqual({
      item_id: 'item-a',
      title: 'item-a',
      url: 'https://x/item-a',
      source: 's',
      category: 'world',
      story_id: 'st',
      published_at: 5,
    });
    // deterministic: the same item id always maps to the same point id
    expect(pointId('item-a')).toBe(pointId('item-a'));
    expect(pointId('item-a')).not.toBe(pointId('item-b'));
    expect(ITEM_ID_NAMESPACE).toMatch(uuidRe);
  });

  it('delete: POST /points/delete?wait=true with the point ids', async () => {
    await index.delete(3, ['item-a', 'gone']);
    const r = recorded[0]!;
    expect(`${r.method} ${r.path}`).toBe('POST /collections/headlines_g3/points/delete');
    expect(r.query.wait).toBe('true');
    expect(r.body).toEqual({ points: [pointId('item-a'), pointId('gone')] });
  });

  it('search: POST /points/query on the alias name, with limit/offset, payload, and a must filter', async () => {
    existing.add('headlines_g7');
    aliases = [{ alias_name: 'headlines', collection_name: 'headlines_g3' }];
    const hits = await index.search('headlines', [0.1, 0.2, 0.3, 0.4], {
      limit: 5,
      offset: 10,
      filter: { category: 'world', source: 's', storyId: 'st1', since: 100, until: 200 },
    });
    const r = recorded[0]!;
    expect(`${r.method} ${r.path}`).toBe('POST /collections/headlines/points/query');
    expect(r.body).toEqual({
      query: [0.1, 0.2, 0.3, 0.4],
      limit: 5,
      offset: 10,
      with_payload: true,
      filter: {
        must: [
          { key: 'category', match: { value: 'world' } },
          { key: 'source', match: { value: 's' } },
          { key: 'story_id', match: { value: 'st1' } },
          { key: 'published_at', range: { gte: 100, lte: 200 } },
        ],
      },
    });
    expect(hits).toEqual([
      {
        itemId: 'item-a',
        score: 0.93,
        payload: {
          title: 'A',
          url: 'https://x/a',
          source: 's',
          category: 'world',
          story_id: 'st1',
          published_at: 1_700_000_000_000,
        },
      },
    ]);
    recorded.length = 0;
    await index.search('headlines', [1, 0, 0, 0], { ef: 256 });
    expect((recorded[0]!.body as { params: unknown }).params).toEqual({ hnsw_ef: 256 });
    recorded.length = 0;
    await index.search(7, [1, 0, 0, 0]);
    expect(recorded[0]!.path).toBe('/collections/headlines_g7/points/query');
    expect(recorded[0]!.body).toEqual({ query: [1, 0, 0, 0], limit: 10, offset: 0, with_payload: true });
  });

  it('flipAlias: checks the target exists, then one POST /collections/aliases with delete_alias then create_alias; servingGeneration reads GET /aliases', async () => {
    existing.add('headlines_g4');
    await index.flipAlias('headlines', 3);
    recorded.length = 0;
    await index.flipAlias('headlines', 4);
    expect(recorded.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /collections/headlines_g4/exists',
      'GET /aliases',
      'POST /collections/aliases',
    ]);
    expect(recorded[2]!.body).toEqual({
      actions: [
        { delete_alias: { alias_name: 'headlines' } },
        { create_alias: { collection_name: 'headlines_g4', alias_name: 'headlines' } },
      ],
    });
    recorded.length = 0;
    expect(await index.servingGeneration('headlines')).toBe(4);
    expect(await index.servingGeneration('other')).toBeUndefined();
    expect(recorded.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /aliases', 'GET /aliases']);
  });

  it('flipAlias to a missing generation is refused before any alias action is sent; the alias keeps serving', async () => {
    recorded.length = 0;
    const err = await index.flipAlias('headlines', 99).catch((e: unknown) => e);
    expect((err as Error).name).toBe('IndexUsageError');
    expect((err as Error).message).toMatch(/cannot point headlines at missing headlines_g99/);
    expect(recorded.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /collections/headlines_g99/exists']);
    expect(await index.servingGeneration('headlines')).toBe(4);
    // the embedded backend is the reference: same error class, same alias left in place
    const hits = await index.search('headlines', [1, 0, 0, 0]);
    expect(hits).toHaveLength(1);
  });

  it('flipAlias: a target dropped between the check and the flip (Qdrant applies delete_alias, then 404) puts the old alias back', async () => {
    existing.add('headlines_g5');
    // the collection disappears after the exists check: the recording server drops it on GET /aliases
    const realRespond = respondHook.current;
    respondHook.current = (req) => {
      if (req.method === 'GET' && req.path === '/aliases') existing.delete('headlines_g5');
      return realRespond(req);
    };
    try {
      recorded.length = 0;
      const err = await index.flipAlias('headlines', 5).catch((e: unknown) => e);
      expect((err as Error).name).toBe('IndexUsageError');
    } finally {
      respondHook.current = realRespond;
    }
    const aliasPosts = recorded.filter((r) => r.path === '/collections/aliases').map((r) => r.body);
    expect(aliasPosts).toEqual([
      {
        actions: [
          { delete_alias: { alias_name: 'headlines' } },
          { create_alias: { collection_name: 'headlines_g5', alias_name: 'headlines' } },
        ],
      },
      { actions: [{ create_alias: { collection_name: 'headlines_g4', alias_name: 'headlines' } }] },
    ]);
    expect(await index.servingGeneration('headlines')).toBe(4);
  });

  it('ensureGeneration tolerates losing the create race (409 Conflict, "already exists" only in the body)', async () => {
    createdBehindOurBack.add('headlines_g6');
    recorded.length = 0;
    await index.ensureGeneration(6, 4, 'cosine');
    const calls = recorded.map((r) => `${r.method} ${r.path}`);
    expect(calls.slice(0, 3)).toEqual([
      'GET /collections/headlines_g6/exists',
      'PUT /collections/headlines_g6',
      'GET /collections/headlines_g6',
    ]);
    // the payload indexes are (re)created, idempotently, in case the winner died before them
    expect(calls.slice(3)).toEqual(Array(4).fill('PUT /collections/headlines_g6/index'));
    // the race lost to a collection of other dimensions is still refused
    createdBehindOurBack.add('headlines_g8');
    await expect(index.ensureGeneration(8, 16, 'cosine')).rejects.toThrow(/exists with 4 dims/);
  });

  it('search on an alias that names nothing answers IndexUsageError ("nothing is indexed yet"), not an outage', async () => {
    const err = await index.search('nothing_here', [1, 0, 0, 0]).catch((e: unknown) => e);
    expect((err as Error).name).toBe('IndexUsageError');
    expect((err as Error).message).toBe('alias nothing_here does not name a generation');
    const gen = await index.search(12345, [1, 0, 0, 0]).catch((e: unknown) => e);
    expect((gen as Error).name).toBe('IndexUsageError');
    expect((gen as Error).message).toMatch(/generation 12345 \(headlines_g12345\) does not exist/);
  });

  it('dropGeneration refuses a served collection, else DELETE /collections/{name}; count is exact', async () => {
    await expect(index.dropGeneration(4)).rejects.toThrow(/served by alias headlines/);
    recorded.length = 0;
    await index.dropGeneration(3);
    expect(recorded.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /aliases', 'DELETE /collections/headlines_g3']);
    recorded.length = 0;
    expect(await index.count(4)).toBe(2);
    expect(recorded[0]!.path).toBe('/collections/headlines_g4/points/count');
    expect(recorded[0]!.body).toEqual({ exact: true });
  });
});

// What replay relies on, asserted alike on both backends: the embedded one is the reference.
describe.each([
  ['embedded', () => new EmbeddedIndex({ dir: mkdtempSync(join(tmpdir(), 'feedlog-index-ref-')) })],
  ['qdrant (recording server)', () => index],
] as [string, () => VectorIndex][])('replay preconditions, %s backend', (_, make) => {
  let idx: VectorIndex;
  beforeAll(() => {
    idx = make();
  });
  afterAll(async () => {
    if (idx instanceof EmbeddedIndex) {
      await idx.close();
      rmSync(idx.root, { recursive: true, force: true });
    }
  });

  it('refuses a flip to a missing generation with IndexUsageError and keeps serving the old one', async () => {
    await idx.ensureGeneration(40, 4, 'cosine');
    await idx.flipAlias('ref', 40);
    const err = await idx.flipAlias('ref', 77).catch((e: unknown) => e);
    expect((err as Error).name).toBe('IndexUsageError');
    expect(await idx.servingGeneration('ref')).toBe(40);
  });

  it('two instances creating the same generation at once both succeed', async () => {
    await Promise.all([idx.ensureGeneration(41, 4, 'cosine'), idx.ensureGeneration(41, 4, 'cosine')]);
    await idx.flipAlias('ref41', 41);
    expect(await idx.servingGeneration('ref41')).toBe(41);
  });

  it('a search on an alias that names nothing is IndexUsageError', async () => {
    const err = await idx.search('ref_none', [1, 0, 0, 0]).catch((e: unknown) => e);
    expect((err as Error).name).toBe('IndexUsageError');
  });
});
