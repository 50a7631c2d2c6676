import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka, loadConfig } from '@feedlog/common';
import { EmbeddedIndex } from '@feedlog/index';
import { migrate } from '@feedlog/migrations';
import { testSchema } from '@feedlog/test';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import type { QueryEmbedder } from '../src/plugins/embedder.ts';
import { KafkaIngestSink } from '../src/plugins/kafka.ts';

// Jobs, stories and search against real PostgreSQL (migrated schema of its own, views refreshed)
// and the real embedded vector index (@feedlog/index) in a temporary directory. The embedding
// service is replaced by a deterministic bag-of-words hasher so the expected ranking is known;
// the index holds vectors from the same function, as the embed stage would from the real model.
const DIMS = 64;
function bagOfWords(text: string): Float32Array {
  const v = new Float32Array(DIMS);
  for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    const h = createHash('md5').update(w).digest();
    v[h[0]! % DIMS]! += 1;
  }
  const n = Math.hypot(...v) || 1;
  return v.map((x) => x / n);
}
const embedder: QueryEmbedder & { models: string[] } = {
  models: [],
  async embed(text, model) {
    this.models.push(model);
    return bagOfWords(text);
  },
  async check() {},
};

const rows = [
  // story s-fed: four headlines about the Fed
  {
    id: 'i1',
    story: 's-fed',
    cat: 'b',
    src: 'reuters',
    title: 'Fed holds interest rates steady',
    t: '2014-03-10T10:00:00Z',
  },
  {
    id: 'i2',
    story: 's-fed',
    cat: 'b',
    src: 'ap',
    title: 'Fed keeps interest rates on hold',
    t: '2014-03-10T11:00:00Z',
  },
  {
    id: 'i3',
    story: 's-fed',
    cat: 'b',
    src: 'bbc',
    title: 'Interest rates unchanged says Fed',
    t: '2014-03-10T12:00:00Z',
  },
  {
    id: 'i4',
    story: 's-fed',
    cat: 't',
    src: 'reuters',
    title: 'Markets calm as Fed rates hold',
    t: '2014-03-11T09:00:00Z',
  },
  // story s-apple
  {
    id: 'i5',
    story: 's-apple',
    cat: 't',
    src: 'verge',
    title: 'Apple unveils new iPhone camera',
    t: '2014-03-12T10:00:00Z',
  },
  { id: 'i6', story: 's-apple', cat: 't', src: 'ap', title: 'New iPhone camera from Apple', t: '2014-03-12T11:00:00Z' },
  // keyword-only match for hybrid: shares "tapering" with the query, little else
  { id: 'i7', story: 's-taper', cat: 'b', src: 'ft', title: 'Tapering', t: '2014-03-13T10:00:00Z' },
];

describe('jobs, stories and search against PostgreSQL and the embedded index', () => {
  let pool: pg.Pool;
  let drop: () => Promise<void>;
  let app: FastifyInstance;
  let index: EmbeddedIndex;
  const dir = mkdtempSync(join(tmpdir(), 'feedlog-api-index-'));

  beforeAll(async () => {
    const s = await testSchema('apiread');
    pool = s.pool;
    drop = s.drop;
    await migrate(pool);
    for (const r of rows) {
      await pool.query(
        `INSERT INTO items (item_id, job_id, source, url, title, published_at, ingested_at, category, story_id, cluster_generation)
         VALUES ($1, 'job-a', $2, $3, $4, $5, $5, $6, $7, 1)`,
        [r.id, r.src, `https://example.com/${r.id}`, r.title, r.t, r.cat, r.story],
      );
    }
    await pool.query(
      `INSERT INTO jobs (id, kind, caller, expected_count, status, created_at) VALUES
       ('job-a', 'ingest', 'alice', 7, 'running', '2024-01-01T00:00:00Z'),
       ('job-b', 'ingest', 'bob', 3, 'running', '2024-01-02T00:00:00Z')`,
    );
    // job-a: every item ingested, classified, clustered; six embedded and indexed, one failed in embed
    const stages = ['ingest', 'classify', 'cluster', 'embed', 'index'];
    for (const [i, r] of rows.entries()) {
      for (const st of stages) {
        if (i === 6 && (st === 'embed' || st === 'index')) continue;
        await pool.query(
          `INSERT INTO item_stages (job_id, stage, item_id, generation, first_at, last_at) VALUES ('job-a', $1, $2, 1, now(), now())`,
          [st, r.id],
        );
      }
    }
    await pool.query(
      `INSERT INTO stage_failures (stage, item_id, job_id, source_topic, source_partition, source_offset, generation, error, failed_at)
       VALUES ('embed', 'i7', 'job-a', 'clustered', 0, 42, 1, '{"class":"EmbedderTimeout","message":"x"}', now())`,
    );
    await pool.query('REFRESH MATERIALIZED VIEW job_progress');
    await pool.query('REFRESH MATERIALIZED VIEW story_summary');
    await pool.query(
      `INSERT INTO generations (stage, generation, model_name, status, serving) VALUES ('embed', 1, 'bag-of-words-test', 'serving', true)`,
    );

    index = new EmbeddedIndex({ dir });
    await index.ensureGeneration(1, DIMS, 'cosine');
    await index.upsert(
      1,
      rows
        .filter((r) => r.id !== 'i7' || true)
        .map((r) => ({
          itemId: r.id,
          vector: bagOfWords(r.title),
          payload: {
            title: r.title,
            url: `https://example.com/${r.id}`,
            source: r.src,
            category: r.cat,
            story_id: r.story,
            published_at: Date.parse(r.t),
          },
        })),
    );
    await index.flipAlias('headlines', 1);

    const kafka = createKafka(loadConfig(), { clientId: 'feedlog-api-read-it' });
    app = await buildApp({
      sink: new KafkaIngestSink(kafka, 'unused-by-these-routes'),
      encoder: { encode: async () => Buffer.alloc(0), check: async () => undefined },
      pool,
      embedder,
      index,
      closeDependencies: false,
    });
  });

  afterAll(async () => {
    await app?.close();
    await index?.close();
    await drop?.();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async (url: string) => {
    const r = await app.inject({ method: 'GET', url });
    return { status: r.statusCode, body: r.json() };
  };

  it('GET /v1/jobs/:id: per-stage counts, failures by stage and error class, done ratio', async () => {
    const { status, body } = await get('/v1/jobs/job-a');
    expect(status).toBe(200);
    expect(body.stages).toEqual({ ingest: 7, classify: 7, cluster: 7, embed: 6, index: 6 });
    expect(body.failures).toEqual({ total: 1, by_stage: { embed: 1 }, by_error: { embed: { EmbedderTimeout: 1 } } });
    expect(body.done_items).toBe(7);
    expect(body.done_ratio).toBe(1);
    expect(body.status).toBe('done');
    expect(body.finished_at).not.toBeNull();
    // job-b has no progress yet
    const b = await get('/v1/jobs/job-b');
    expect(b.body).toMatchObject({ status: 'running', items: 0, done_ratio: 0, expected: 3 });
    expect((await get('/v1/jobs/nope')).status).toBe(404);
  });

  it('GET /v1/jobs filters by status, caller and since', async () => {
    expect((await get('/v1/jobs?status=done')).body.jobs.map((j: { job_id: string }) => j.job_id)).toEqual(['job-a']);
    expect((await get('/v1/jobs?caller=bob')).body.jobs.map((j: { job_id: string }) => j.job_id)).toEqual(['job-b']);
    expect(
      (await get('/v1/jobs?since=2024-01-01T12:00:00Z')).body.jobs.map((j: { job_id: string }) => j.job_id),
    ).toEqual(['job-b']);
    expect((await get('/v1/jobs')).body.jobs).toHaveLength(2);
  });

  it('GET /v1/stories/:id and /v1/stories?since', async () => {
    const { status, body } = await get('/v1/stories/s-fed');
    expect(status).toBe(200);
    expect(body).toMatchObject({ story_id: 's-fed', size: 4, source_count: 3, category: 'b' });
    expect(body.representative.item_id).toBe('i1');
    expect(body.items.map((i: { item_id: string }) => i.item_id)).toEqual(['i1', 'i2', 'i3', 'i4']);
    const since = await get('/v1/stories?since=2014-03-12T00:00:00Z');
    expect(since.body.stories.map((s: { story_id: string }) => s.story_id)).toEqual(['s-taper', 's-apple']);
    expect((await get('/v1/stories/none')).status).toBe(404);
  });

  it('GET /v1/search: the serving model, same-story headlines first, filters, PostgreSQL rows joined', async () => {
    const { status, body } = await get('/v1/search?q=Fed%20interest%20rates%20hold&limit=4');
    expect(status).toBe(200);
    expect(embedder.models.at(-1)).toBe('bag-of-words-test');
    expect(body.model).toBe('bag-of-words-test');
    const ids = body.results.map((r: { item: { item_id: string } }) => r.item.item_id);
    expect(new Set(ids)).toEqual(new Set(['i1', 'i2', 'i3', 'i4']));
    expect(body.results[0].story).toMatchObject({ story_id: 's-fed', size: 4 });
    expect(body.results[0].item.category).toBe('b');
    const scores = body.results.map((r: { score: number }) => r.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);

    const tech = await get('/v1/search?q=Fed%20interest%20rates%20hold&category=t&limit=10');
    expect(tech.body.results.map((r: { item: { item_id: string } }) => r.item.item_id)).toEqual(
      expect.arrayContaining(['i4', 'i5', 'i6']),
    );
    expect(tech.body.results.every((r: { item: { category: string } }) => r.item.category === 't')).toBe(true);
    const src = await get('/v1/search?q=Fed&source=ap&until=2014-03-11T00:00:00Z');
    expect(src.body.results.map((r: { item: { item_id: string } }) => r.item.item_id)).toEqual(['i2']);
    const page2 = await get('/v1/search?q=Fed%20interest%20rates%20hold&limit=2&offset=2');
    expect(page2.body.results.map((r: { rank: number }) => r.rank)).toEqual([3, 4]);
  });

  it('mode=hybrid fuses the vector and full-text rankings by reciprocal rank fusion', async () => {
    const q = 'Fed tapering';
    const hybrid = await get(`/v1/search?q=${encodeURIComponent(q)}&limit=10&mode=hybrid`);
    expect(hybrid.status).toBe(200);
    const results = hybrid.body.results as {
      score: number;
      vector_rank: number | null;
      text_rank: number | null;
      item: { item_id: string };
    }[];
    // every score is the RRF sum of its ranks (k = 60), and the list is sorted by it
    for (const r of results) {
      const expected = (r.vector_rank ? 1 / (60 + r.vector_rank) : 0) + (r.text_rank ? 1 / (60 + r.text_rank) : 0);
      expect(r.score).toBeCloseTo(expected, 12);
    }
    expect(results.map((r) => r.score)).toEqual([...results.map((r) => r.score)].sort((a, b) => b - a));
    // terms are OR-ed: the Fed items and the 'Tapering' item all have a text rank; the Apple items none
    const textMatched = results.filter((r) => r.text_rank !== null).map((r) => r.item.item_id);
    expect(new Set(textMatched)).toEqual(new Set(['i1', 'i2', 'i3', 'i4', 'i7']));
    // an item in both rankings beats one found by the vector ranking alone
    const apple = results.find((r) => r.item.item_id === 'i5');
    const fed = results.find((r) => r.item.item_id === 'i1')!;
    if (apple) expect(fed.score).toBeGreaterThan(apple.score);
    // filters apply to the full-text side too
    const filtered = await get(`/v1/search?q=${encodeURIComponent(q)}&mode=hybrid&source=ft`);
    expect(filtered.body.results.map((r: { item: { item_id: string } }) => r.item.item_id)).toEqual(['i7']);
  });

  it('readyz reports PostgreSQL, the embedder and the index as ok with latencies', async () => {
    const r = await app.inject({ method: 'GET', url: '/readyz' });
    const body = r.json();
    for (const c of ['postgres', 'embedder', 'index']) {
      expect(body.components[c].ok, c).toBe(true);
      expect(body.components[c].latency_ms).toBeGreaterThanOrEqual(0);
    }
  });
});
