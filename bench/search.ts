// Search latency through GET /v1/search under concurrent clients, with N items in the embedded index.
//
// Corpus (built directly, not through the pipeline): N seeded, clustered 384-dim unit vectors
// (@feedlog/index synthetic data, as bench/index.ts) upserted through EmbeddedIndex's real write
// path into generation 1 of a fresh index directory (alias `headlines` flipped to it, snapshot
// written), and N matching `items` rows (title, source, category, story) in a PostgreSQL schema of
// this run's own (migrated; story_summary refreshed), so the route's join finds every hit.
//
// The API is the production wiring (createServices → buildApp: API key + rate limit, validation,
// the serving-model lookup, the index read-only beside its writer, the PostgreSQL join) in a child
// process, as `feedlog up` runs it; the load comes from autocannon in this process,
// --connections concurrent clients, each request a different query, for --duration seconds after a
// warm-up. Latency is every 2xx response's time from autocannon's 'response' event (fractional ms).
//
// Scenarios:
//   stub   "vector search + join only": the query embedder is a stub that returns a pre-drawn
//          vector from the corpus distribution for `q=stub-<k>`; the rest is the real route
//   real   "embedding included": the real OpenAIEmbedder against the running local embedder
//          (all-MiniLM-L6-v2 int8); queries are UCI headlines (../shared) or generated sentences,
//          each request another text (the API's query cache misses).
//          The corpus is synthetic, so the query vectors are not near real neighbours: the graph
//          walk costs about the same, the scores mean nothing.
//   cached the real embedder, but the queries cycle through 200 texts embedded once before the
//          run: every request is a hit of the API's query-embedding cache (issue 14).
// Baselines, same run: in-process sequential index.search (no HTTP, no PostgreSQL) at the API's ef
// (INDEX_SEARCH_EF), index.search + the route's join query, and the embedder alone (POST
// /v1/embeddings, same clients, autocannon).
//
// Runs: closed loop (--connections: each client sends its next query as soon as answered, so at
// saturation p50 ≈ clients / throughput) and open loop (--rates: the largest client count offering
// that many requests per second in total at even intervals, at most that many in flight; latency
// counted from each request's scheduled time, so a backlog shows. A small loop over fetch, not
// autocannon: its overallRate sends each second's quota in a burst at the start of the second).
//   npx tsx bench/search.ts [--items 100000] [--connections 1,8,32] [--rates 50] [--duration 15] [--warmup 3]
//                           [--scenarios stub,real,cached] [--dir DIR (reuse/keep a corpus)] [--json]
// BENCH_CPU_PROF=DIR: the API process writes a V8 CPU profile there.
// Needs PostgreSQL and, for `real`, the embedder (`node bin/feedlog up`). Kafka is not used.
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildApp, createServices, PgApiKeyStore } from '@feedlog/api';
import { loadConfig } from '@feedlog/common';
import { clusteredVectors, EmbeddedIndex } from '@feedlog/index';
import { indexEnv } from '@feedlog/index/env';

import { migrate } from '@feedlog/migrations';
import pg from 'pg';
import { load, openLoop, type Row, row, seqRow, sequential } from './search-load.ts';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    connections: { type: 'string', default: '1,8,32' },
    duration: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    rates: { type: 'string', default: '50' },
    scenarios: { type: 'string', default: 'stub,real,cached' },
    dir: { type: 'string' },
    json: { type: 'boolean', default: false },
    // internal: run the API server (child process)
    serve: { type: 'string' },
  },
});

const DIMS = 384;
const CLUSTERS = 300;
const SEED = 20251121;
const QUERY_SEED = 7_777;
const STUB_QUERIES = 2_000;
const CACHED_QUERIES = 200;
/** the API's graph ef (createServices reads the same variable): the in-process baseline uses it too */
const SEARCH_EF = indexEnv.parse(process.env).INDEX_SEARCH_EF;
const log = (s: string) => process.stderr.write(`${s}\n`);
const categories = ['b', 't', 'e', 'm'];

interface Corpus {
  items: number;
  seed: number;
  schema: string;
  key: string;
  builtAt: string;
}

function dbUrl(schema: string): string {
  const url = new URL(loadConfig().postgres.url);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/** The stub query vectors: draws from the corpus distribution (same centres), not in the corpus. */
function stubVectors(): Float32Array[] {
  const data = clusteredVectors({ n: 0, dims: DIMS, clusters: CLUSTERS, spread: 1.0, seed: SEED });
  const flat = data.sample(STUB_QUERIES, QUERY_SEED);
  return Array.from({ length: STUB_QUERIES }, (_, i) => flat.slice(i * DIMS, (i + 1) * DIMS));
}

// ---------------------------------------------------------------- child: the API server
if (values.serve) {
  const o = JSON.parse(values.serve) as { schema: string; dir: string; stub: boolean };
  const config = loadConfig();
  const services = createServices(
    { ...config, postgres: { ...config.postgres, url: dbUrl(o.schema) } },
    { ...process.env, INDEX_DIR: o.dir, FEEDLOG_TOPIC_PREFIX: `bench-search-unused-` },
  );
  const { settings: _s, ...opts } = services;
  if (o.stub) {
    const vectors = stubVectors();
    opts.embedder = {
      async embed(text) {
        const k = Number(/^stub-(\d+)$/.exec(text)?.[1] ?? Number.NaN);
        const v = vectors[k % STUB_QUERIES];
        if (!v) throw new Error(`stub embedder: unknown query ${text}`);
        return v;
      },
      async check() {},
    };
  }
  const app = await buildApp(opts);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address() as { port: number };
  process.send?.({ port: addr.port });
  // the parent asks for this process's CPU time around a run (CPU ms per request: robust to a shared machine)
  process.on('message', (m) => {
    if (m === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ cpuMs: (u.user + u.system) / 1000 });
    }
  });
  process.on('SIGTERM', () => {
    app.close().finally(() => process.exit(0));
  });
  await new Promise(() => {});
}

// ---------------------------------------------------------------- parent
const N = Number(values.items);
const CONNS = (values.connections ?? '32').split(',').map(Number);
const MAX_CONN = Math.max(...CONNS);
/** open-loop runs: MAX_CONN clients offering this many requests per second in total */
const RATES = (values.rates ?? '').split(',').filter(Boolean).map(Number);
const DURATION = Number(values.duration);
const WARMUP = Number(values.warmup);
const scenarios = (values.scenarios ?? '').split(',').filter(Boolean);
const config = loadConfig();
const keep = values.dir !== undefined;
const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'feedlog-bench-search-'));
mkdirSync(dir, { recursive: true });
const corpusFile = join(dir, 'bench-corpus.json');

async function schemaHasCorpus(c: Corpus): Promise<boolean> {
  const pool = new pg.Pool({ connectionString: dbUrl(c.schema), max: 1 });
  try {
    const r = await pool.query<{ n: string }>('SELECT count(*) AS n FROM items');
    return Number(r.rows[0]?.n) === c.items;
  } catch {
    return false;
  } finally {
    await pool.end();
  }
}

async function buildCorpus(): Promise<Corpus> {
  const schema = `bench_search_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: config.postgres.url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: dbUrl(schema), max: 2 });
  await migrate(pool);

  let t0 = performance.now();
  const data = clusteredVectors({ n: N, dims: DIMS, clusters: CLUSTERS, spread: 1.0, seed: SEED });
  log(`corpus: ${N} × ${DIMS} vectors generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const t1 = Date.UTC(2025, 0, 1);
  const itemOf = (i: number) => {
    const c = data.cluster[i] as number;
    return {
      itemId: `bench-${i}`,
      title: `Synthetic headline ${i} on topic ${c}`,
      url: `https://bench.example/${i}`,
      source: `source-${i % 40}.example`,
      category: categories[c % categories.length] as string,
      storyId: `s-bench-${c}-${Math.floor(i / 50)}`,
      publishedAt: t1 + i * 1_000,
    };
  };

  // PostgreSQL rows, 5,000 per INSERT … SELECT unnest
  t0 = performance.now();
  for (let i = 0; i < N; i += 5_000) {
    const rows = Array.from({ length: Math.min(5_000, N - i) }, (_, j) => itemOf(i + j));
    await pool.query(
      `INSERT INTO items (item_id, job_id, source, url, title, published_at, ingested_at, category, confidence,
                          story_id, cluster_generation, embed_generation, index_generation, indexed_at)
       SELECT u.id, 'bench-search', u.source, u.url, u.title, to_timestamp(u.at / 1000.0), to_timestamp(u.at / 1000.0),
              u.category, 0.9, u.story, 1, 1, 1, now()
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::text[], $7::text[])
            AS u(id, source, url, title, at, category, story)`,
      [
        rows.map((r) => r.itemId),
        rows.map((r) => r.source),
        rows.map((r) => r.url),
        rows.map((r) => r.title),
        rows.map((r) => r.publishedAt),
        rows.map((r) => r.category),
        rows.map((r) => r.storyId),
      ],
    );
  }
  await pool.query('REFRESH MATERIALIZED VIEW story_summary');
  await pool.query('ANALYZE items');
  log(`corpus: ${N} PostgreSQL rows + story_summary in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // the vector index, through the product's write path (WAL + fsync per batch), one snapshot at the end
  t0 = performance.now();
  const index = new EmbeddedIndex({ dir, snapshotBytes: 2 ** 40 });
  await index.ensureGeneration(1, DIMS, 'cosine');
  for (let i = 0; i < N; i += 2_000) {
    const n = Math.min(2_000, N - i);
    await index.upsert(
      1,
      Array.from({ length: n }, (_, j) => {
        const r = itemOf(i + j);
        return {
          itemId: r.itemId,
          vector: data.vectors.subarray((i + j) * DIMS, (i + j + 1) * DIMS),
          payload: {
            title: r.title,
            url: r.url,
            source: r.source,
            category: r.category,
            story_id: r.storyId,
            published_at: r.publishedAt,
          },
        };
      }),
    );
    if ((i / 2_000) % 10 === 9) log(`  indexed ${i + n}/${N} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  index.snapshot();
  await index.flipAlias('headlines', 1);
  const count = await index.count(1);
  await index.close();
  if (count !== N) throw new Error(`index holds ${count} points, expected ${N}`);
  log(`corpus: ${N} vectors indexed + snapshot in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const { key } = await new PgApiKeyStore(pool).create('bench-search', ['read'], 100_000_000);
  await pool.end();
  const c: Corpus = { items: N, seed: SEED, schema, key, builtAt: new Date().toISOString() };
  writeFileSync(corpusFile, JSON.stringify(c, null, 2));
  return c;
}

async function dropSchema(schema: string) {
  const admin = new pg.Client({ connectionString: config.postgres.url });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
}

let corpus: Corpus | undefined;
if (existsSync(corpusFile)) {
  const c = JSON.parse(readFileSync(corpusFile, 'utf8')) as Corpus;
  if (c.items === N && c.seed === SEED && (await schemaHasCorpus(c))) {
    corpus = c;
    log(`corpus: reusing ${dir} (schema ${c.schema}, built ${c.builtAt})`);
  }
}
corpus ??= await buildCorpus();
const { schema, key } = corpus;

async function startServer(stub: boolean): Promise<{ child: ChildProcess; base: string }> {
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const child = fork(fileURLToPath(import.meta.url), ['--serve', JSON.stringify({ schema, dir, stub })], {
    execArgv: [
      '--import',
      tsx,
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the API server exited (${code}) before listening`)));
  });
  return { child, base: `http://127.0.0.1:${port}` };
}

/** the server process's CPU time so far, ms */
function serverCpuMs(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const on = (m: unknown) => {
      const ms = (m as { cpuMs?: number }).cpuMs;
      if (ms === undefined) return;
      child.off('message', on);
      resolve(ms);
    };
    child.on('message', on);
    child.send('cpu');
  });
}

async function stopServer(child: ChildProcess) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

function realQueries(): string[] {
  const file = '/work/shared/data/uci/stories-dev.csv';
  if (existsSync(file)) {
    const titles = readFileSync(file, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.split(',')[1] ?? '')
      .filter((t) => t.length > 10 && !t.includes('"'));
    if (titles.length > 100) return titles;
  }
  log('[bench/search] /work/shared/data absent: generated query sentences');
  const subjects = ['central bank', 'smartphone maker', 'film festival', 'vaccine trial', 'oil price', 'election'];
  const verbs = ['surprises', 'disappoints', 'moves', 'delays', 'announces', 'questions'];
  return Array.from(
    { length: 1_000 },
    (_, i) => `${subjects[i % 6]} ${verbs[Math.floor(i / 6) % 6]} markets in week ${i}`,
  );
}

const rows: Row[] = [];
const load0 = loadavg()[0] as number;
const headers = { 'x-api-key': key };
const stubs = stubVectors();

// baselines: the index and the join in this process, one query at a time
{
  const index = new EmbeddedIndex({ dir, readOnly: true, searchEf: SEARCH_EF });
  await index.search('headlines', stubs[0] as Float32Array, { limit: 10 }); // load the snapshot
  const pool = new pg.Pool({ connectionString: dbUrl(schema), max: 1 });
  const searchOnly = await sequential(500, (i) =>
    index.search('headlines', stubs[i % STUB_QUERIES] as Float32Array, { limit: 10 }),
  );
  rows.push(seqRow('baseline', `index.search in-process, ef ${SEARCH_EF} (no HTTP, no PostgreSQL)`, searchOnly));
  const withJoin = await sequential(500, async (i) => {
    const hits = await index.search('headlines', stubs[(i + 500) % STUB_QUERIES] as Float32Array, { limit: 10 });
    const r = await pool.query(
      `SELECT i.item_id, i.title, i.url, i.source, i.summary, i.published_at, i.category, i.confidence, i.story_id,
              s.size AS story_size, s.representative_title AS story_title
       FROM items i LEFT JOIN story_summary s ON s.story_id = i.story_id
       WHERE i.item_id = ANY($1)`,
      [hits.map((h) => h.itemId)],
    );
    if (r.rows.length !== hits.length) throw new Error(`join found ${r.rows.length} of ${hits.length} rows`);
  });
  rows.push(seqRow('baseline', 'index.search + the route join, in-process', withJoin));
  await pool.end();
  await index.close();
}

const what: Record<string, string> = {
  stub: 'GET /v1/search: vector search + join only (stub query vector)',
  real: 'GET /v1/search: embedding included (local embedder, every query new)',
  cached: `GET /v1/search: local embedder, ${CACHED_QUERIES} repeated queries (query cache hits)`,
};
for (const sc of scenarios) {
  if (!what[sc]) throw new Error(`unknown scenario ${sc} (stub | real | cached)`);
  const { child, base } = await startServer(sc === 'stub');
  try {
    const texts = sc === 'stub' ? [] : realQueries().slice(0, sc === 'cached' ? CACHED_QUERIES : undefined);
    let k = 0;
    const next = () => {
      const q = sc === 'stub' ? `stub-${k % STUB_QUERIES}` : (texts[k % texts.length] as string);
      k++;
      return { path: `/v1/search?q=${encodeURIComponent(q)}&limit=10` };
    };
    // cached: every text embedded once before the measured runs
    if (sc === 'cached')
      for (const t of texts) await fetch(`${base}/v1/search?q=${encodeURIComponent(t)}&limit=10`, { headers });
    // sanity: an answer of 10 results, every one joined to its PostgreSQL row and story
    const probe = await fetch(`${base}${next().path}`, { headers });
    const body = (await probe.json()) as {
      results: { item: { title: string | null; confidence: number | null }; story: { size: number | null } | null }[];
    };
    if (probe.status !== 200 || body.results.length !== 10)
      throw new Error(`${sc}: probe answered ${probe.status}: ${JSON.stringify(body).slice(0, 300)}`);
    if (!body.results.every((r) => r.item.confidence === 0.9 && (r.story?.size ?? 0) > 0))
      throw new Error(`${sc}: results not joined to the PostgreSQL rows: ${JSON.stringify(body.results[0])}`);
    if (WARMUP > 0) await load(base, next, WARMUP, headers, MAX_CONN);
    for (const c of CONNS) {
      const cpu0 = await serverCpuMs(child);
      const r = await load(base, next, DURATION, headers, c);
      const cpu = (await serverCpuMs(child)) - cpu0;
      rows.push(row(sc, what[sc] as string, r, cpu));
      log(`${sc}, ${c} clients: ${r.requests} requests in ${r.seconds.toFixed(1)} s`);
    }
    for (const rate of RATES) {
      const cpu0 = await serverCpuMs(child);
      const r = await openLoop(base, next, DURATION, headers, MAX_CONN, rate);
      const cpu = (await serverCpuMs(child)) - cpu0;
      rows.push(row(sc, what[sc] as string, r, cpu));
      log(`${sc}, ${MAX_CONN} clients offering ${rate} req/s: ${r.requests} requests in ${r.seconds.toFixed(1)} s`);
    }
  } finally {
    await stopServer(child);
  }
  if (sc === 'real') {
    // the embedder alone, same clients: how much of the "embedding included" latency it is
    const texts = realQueries();
    let k = 0;
    const base = config.embedder.baseUrl.replace(/\/v1\/?$/, '');
    const r = await load(
      base,
      () => ({
        path: '/v1/embeddings',
        method: 'POST',
        body: JSON.stringify({ model: 'all-MiniLM-L6-v2-int8', input: [texts[k++ % texts.length]] }),
      }),
      DURATION,
      { 'content-type': 'application/json' },
      MAX_CONN,
    );
    rows.push(row('baseline', 'POST /v1/embeddings alone (the local embedder, one text)', r));
  }
}

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const closed = rows.filter((r) => r.offered === null);
const stub1 = closed.find((r) => r.run === 'stub' && r.concurrency === Math.min(...CONNS));
const alone = rows.find((r) => r.what.startsWith('index.search in-process'));
const join_ = rows.find((r) => r.what.startsWith('index.search + the route join'));
if (values.json) {
  console.log(JSON.stringify({ items: N, connections: CONNS, duration: DURATION, ef: SEARCH_EF, rows }, null, 2));
} else {
  console.log(
    `\nGET /v1/search, ${N.toLocaleString('en')} items in the embedded index (usearch, ${DIMS} dims, ef ${SEARCH_EF}), ${CONNS.join(' / ')} clients, ${DURATION} s per run; machine load average ${load0.toFixed(1)} → ${(loadavg()[0] as number).toFixed(1)} (${availableParallelism()} cores)\n`,
  );
  console.log(
    '| run | what | clients | offered | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | API CPU ms/req |',
  );
  console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const r of rows)
    console.log(
      `| ${r.run} | ${r.what} | ${r.concurrency} | ${r.offered === null ? 'closed loop' : `${r.offered}/s`} | ${r.requests} | ${f(r.rps, 0)} | ${f(r.p50, 2)} | ${f(r.p95, 2)} | ${f(r.p99, 2)} | ${f(r.max, 1)} | ${r.errors} | ${r.cpuMsPerRequest === null ? '-' : f(r.cpuMsPerRequest, 2)} |`,
    );
  console.log('');
  if (stub1 && alone && join_)
    console.log(
      `stub, ${stub1.concurrency} client(s): p50 ×${f(stub1.p50 / alone.p50, 2)} the index alone, ×${f(stub1.p50 / join_.p50, 2)} search + join in-process (HTTP, validation, key check, serialization)`,
    );
  for (const r of closed.filter((x) => x.run !== 'baseline' && x.concurrency > 1)) {
    const cpu = r.cpuMsPerRequest ?? Number.NaN;
    console.log(
      `${r.run}, ${r.concurrency} clients: throughput ×${f(alone ? r.rps / alone.rps : Number.NaN, 2)} the index alone; p50 ≈ clients / throughput = ${f((r.concurrency / r.rps) * 1000)} ms; ` +
        `${f(cpu, 2)} API CPU ms/req → one dedicated core ≤ ${f(1000 / cpu, 0)} req/s; p99 ${f(r.p99, 1)} ms — aim < 50 ms ${r.p99 < 50 ? 'met' : 'MISSED'}`,
    );
  }
}

if (!keep) {
  await dropSchema(schema);
  rmSync(dir, { recursive: true, force: true });
} else log(`kept ${dir} and schema ${schema} (--dir): rerun with --dir ${dir} to reuse the corpus`);
