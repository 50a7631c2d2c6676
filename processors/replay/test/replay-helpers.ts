// The stack a replay test runs on: a PostgreSQL schema, prefixed topics and subjects, generation 1
// of every stage and the materializer in this process (the helpers of test/it/api-e2e-helpers.ts),
// and the real API (createServices → buildApp) whose ReplayController starts generation N+1 as
// real stage processes (PID files and logs under a home of the test's own).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp, createServices, PgApiKeyStore } from '@feedlog/api';
import { loadConfig } from '@feedlog/common';
import type { VectorIndex } from '@feedlog/index';
import { migrate } from '@feedlog/migrations';
import { testSchema, waitFor } from '@feedlog/test';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import {
  api,
  deletePrefixedSubjects,
  feedItem,
  loadUci,
  pickStories,
  type RunningPipeline,
  registerPrefixedSubjects,
  startPipeline,
} from '../../../test/it/api-e2e-helpers.ts';
import {
  applyPrefixedTopics,
  deletePrefixedTopics,
  testKafka,
  uniquePrefix,
} from '../../../test/it/pipeline-helpers.ts';
import type { ReplayController } from '../src/controller.ts';
import { stopStageProcesses } from '../src/processes.ts';

export const MODEL_A = 'all-MiniLM-L6-v2-int8';
export const MODEL_B = 'paraphrase-MiniLM-L3-v2';
export { api };

export const config = loadConfig();
export const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? config.registry.url;
export const embeddingBaseUrl = process.env.EMBEDDING_BASE_URL ?? config.embedder.baseUrl;

export interface FeedItem {
  source: string;
  url: string;
  title: string;
  guid: string;
  published_at: string;
}

/**
 * A few hundred real headlines: a deterministic subset of the UCI dev stories when ../shared is
 * there, the project's own labelled fixture (160 headlines) otherwise.
 */
export function headlines(max = 300): FeedItem[] {
  const uci = loadUci();
  if (uci) return pickStories(uci, { every: 5, offset: 2, maxItems: max }).map(feedItem);
  const fixture = join(import.meta.dirname, '../../classify/fixtures/headlines.csv');
  const rows = parse(readFileSync(fixture), { columns: true, skip_empty_lines: true }) as { title: string }[];
  return rows.slice(0, max).map((r, i) => ({
    source: 'fixture.example',
    url: `https://fixture.example/${i}`,
    title: r.title,
    guid: `fixture:${i}`,
    published_at: new Date(Date.UTC(2024, 0, 1, 0, i)).toISOString(),
  }));
}

export interface ReplayStack {
  prefix: string;
  /** the serving alias (`headlines`, or the test's own on Qdrant) */
  alias: string;
  schema: Awaited<ReturnType<typeof testSchema>>;
  indexDir: string;
  home: string;
  base: string;
  app: FastifyInstance;
  replays: ReplayController;
  adminKey: string;
  pipeline: RunningPipeline;
  log: (s: string) => void;
  /** stop generation 1's in-process stages and materializer (as the controller stops a retired generation's processes) */
  stopPipeline(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The replay tests take turns (a session advisory lock): each re-embeds hundreds of headlines
 * through the one local embedder, and the model-swap test measures search throughput against it,
 * which another replay test embedding at the same time would halve. Other tests are not affected.
 */
async function takeTurn(log: (s: string) => void): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL ?? config.postgres.url });
  await client.connect();
  const t0 = Date.now();
  await client.query("SELECT pg_advisory_lock(hashtext('feedlog.replay-tests'))");
  if (Date.now() - t0 > 1_000) log(`waited ${((Date.now() - t0) / 1000).toFixed(1)} s for another replay test`);
  return client;
}

/**
 * A loopback proxy to the embedder that holds each request `delayMs` first: a replay through it
 * takes seconds whatever the machine, so a test can see it mid-way (the local L3 model embeds a
 * few hundred headlines in well under a second on a quiet machine).
 */
export async function slowEmbedder(delayMs: number): Promise<{ url: string; server: Server }> {
  const target = new URL(embeddingBaseUrl);
  const server = createServer((req, res) => {
    setTimeout(() => {
      const up = request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.writeHead(502).end());
      req.pipe(up);
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}${target.pathname}`, server };
}

/** Where the stack's index lives: the embedded index in a temp directory (default) or a Qdrant server. */
export interface QdrantBackend {
  url: string;
  /** the serving alias: unique per run, as the server may hold other aliases */
  alias: string;
  /** the in-process pipeline's writer on that server (generation 1) */
  index: VectorIndex;
}

/**
 * `replayEmbeddingBaseUrl`: the endpoint the replay's processes use (default: the embedder).
 * `qdrant`: the in-process pipeline's index, the API's and the replay's index processes all on
 * that Qdrant server (createServices picks Qdrant when it has a QDRANT_URL).
 */
export async function startReplayStack(
  name: string,
  replayEmbeddingBaseUrl = embeddingBaseUrl,
  qdrant?: QdrantBackend,
): Promise<ReplayStack> {
  const log = (s: string) => process.stderr.write(`[${name}] ${s}\n`);
  const turn = await takeTurn(log);
  const kafka = testKafka(name);
  const prefix = uniquePrefix(name);
  const schema = await testSchema(name);
  await migrate(schema.pool);
  await applyPrefixedTopics(kafka, prefix);
  await registerPrefixedSubjects(prefix, registryUrl);
  const indexDir = mkdtempSync(join(tmpdir(), `feedlog-${name}-index-`));
  const home = mkdtempSync(join(tmpdir(), `feedlog-${name}-home-`));
  const pipeline = await startPipeline({
    kafka,
    prefix,
    registryUrl,
    embeddingBaseUrl,
    embeddingModel: MODEL_A,
    pool: schema.pool,
    indexDir,
    log,
    ...(qdrant ? { index: qdrant.index, alias: qdrant.alias } : {}),
  });
  const url = new URL(config.postgres.url);
  url.searchParams.set('options', `-c search_path=${schema.schema}`);
  // The stage processes a replay starts inherit the API's environment, as in production: point
  // DATABASE_URL at this test's schema so their embedding cache is this test's (empty) one, not
  // the shared database's, which other runs filled with the same texts under the same models.
  const databaseUrl = process.env.DATABASE_URL;
  process.env.DATABASE_URL = url.toString();
  const services = createServices(
    { ...config, home, postgres: { ...config.postgres, url: url.toString() } },
    {
      FEEDLOG_TOPIC_PREFIX: prefix,
      INDEX_DIR: indexDir,
      EMBEDDING_BASE_URL: replayEmbeddingBaseUrl,
      EMBEDDING_MODEL: MODEL_A,
      ...(qdrant ? { QDRANT_URL: qdrant.url, INDEX_ALIAS: qdrant.alias } : {}),
    },
  );
  const { settings: _s, replays, ...opts } = services;
  // the load generator searches far above the anonymous rate limit
  const app = await buildApp({ ...opts, replays, rateLimit: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const adminKey = (await new PgApiKeyStore(schema.pool).create(name, ['admin'], 100_000)).key;
  let stopped: Promise<void> | undefined;
  const stopPipeline = () => {
    stopped ??= pipeline.stop();
    return stopped;
  };
  return {
    prefix,
    alias: qdrant?.alias ?? 'headlines',
    schema,
    indexDir,
    home,
    base,
    app,
    replays,
    adminKey,
    pipeline,
    log,
    stopPipeline,
    async close() {
      await stopStageProcesses(home);
      await app.close().catch(() => undefined);
      await stopPipeline();
      await deletePrefixedTopics(kafka, prefix);
      await deletePrefixedSubjects(prefix, registryUrl);
      await schema.drop();
      rmSync(indexDir, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
      if (databaseUrl === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = databaseUrl;
      await turn.end();
    },
  };
}

/** Push items through POST /v1/items and wait until the materializer saw every one indexed. */
export async function ingest(s: ReplayStack, items: FeedItem[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < items.length; i += 500) {
    const r = await api<{ items: { item_id: string }[] }>(s.base, '/v1/items', {
      method: 'POST',
      key: s.adminKey,
      body: JSON.stringify({ items: items.slice(i, i + 500) }),
    });
    ids.push(...r.items.map((x) => x.item_id));
  }
  const unique = new Set(ids);
  await waitFor(
    `${unique.size} items indexed`,
    async () => {
      const r = await s.schema.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM items WHERE item_id = ANY($1) AND index_generation IS NOT NULL',
        [[...unique]],
      );
      return r.rows[0]?.n === unique.size ? true : undefined;
    },
    120_000,
    500,
  );
  return [...unique];
}

export interface ReplayBody {
  id: string;
  status: string;
  generation: number;
  stages: string[];
  progress: {
    caught_up: boolean;
    stages: { stage: string; done: number; total: number; lag: number; pids: number[] }[];
  };
}

/** GET /v1/replays/:id until `until` holds (the API's own timer advances the replay). */
export async function waitReplay(
  s: ReplayStack,
  id: string,
  until: (r: ReplayBody) => boolean,
  timeoutMs = 150_000,
): Promise<ReplayBody> {
  const deadline = Date.now() + timeoutMs;
  let last: ReplayBody | undefined;
  while (Date.now() < deadline) {
    last = await api<ReplayBody>(s.base, `/v1/replays/${id}`, { key: s.adminKey });
    if (until(last)) return last;
    await sleep(500);
  }
  const logs = existsSync(join(s.home, 'logs')) ? ` (stage logs in ${join(s.home, 'logs')})` : '';
  throw new Error(`replay ${id} did not reach the state in ${timeoutMs} ms: ${JSON.stringify(last)}${logs}`);
}
