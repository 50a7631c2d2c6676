// Helpers for the whole-pipeline API test (api-e2e.it.test.ts): the UCI stories, a deterministic
// subset of them, the pipeline (classify → cluster → embed → index + materializer) run in this
// process on prefixed topics, the API app on top of it, and the search score.
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { buildApp, createServices } from '@feedlog/api';
import { classifyStage, loadClassifyModel } from '@feedlog/classify/stage';
import { runClusterStage } from '@feedlog/cluster/run-cluster';
import { clusterStage } from '@feedlog/cluster/stage';
import type { FeedlogConfig } from '@feedlog/common';
import { embeddingSettings, embedStage } from '@feedlog/embed';
import { EmbeddedIndex, type VectorIndex } from '@feedlog/index';
import { indexStage } from '@feedlog/index/stage';
import { startMaterializer } from '@feedlog/materialize';
import { groupIdFor, onlyInputGeneration, runStage, subscribe } from '@feedlog/runtime';
import { serdeFor } from '@feedlog/schemas';
import { topicNames } from '@feedlog/topics';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import type { Kafka } from 'kafkajs';
import type pg from 'pg';

export const UCI_DEV = '/work/shared/data/uci/stories-dev.csv';

export interface UciRow {
  id: string;
  title: string;
  url: string;
  publisher: string;
  hostname: string;
  category: string;
  story: string;
  timestamp: number;
}

/** Every row of a UCI News Aggregator CSV, in event-time order (timestamp, then id). */
export function loadUci(file = UCI_DEV): UciRow[] | undefined {
  if (!existsSync(file)) return undefined;
  const rows = parse(readFileSync(file), { columns: true, relax_quotes: true, skip_empty_lines: true }) as Record<
    string,
    string
  >[];
  return rows
    .map((r) => ({
      id: r.ID ?? '',
      title: r.TITLE ?? '',
      url: r.URL ?? '',
      publisher: r.PUBLISHER ?? '',
      hostname: r.HOSTNAME ?? '',
      category: r.CATEGORY ?? '',
      story: r.STORY ?? '',
      timestamp: Number(r.TIMESTAMP),
    }))
    .sort((a, b) => a.timestamp - b.timestamp || Number(a.id) - Number(b.id));
}

/**
 * A deterministic subset: the stories sorted by id, every `every`-th of them (starting at
 * `offset`), skipping a story that would take the total past `maxItems`. All headlines of each
 * chosen story are kept (the search check needs whole stories). Returns rows in event-time order.
 */
export function pickStories(rows: UciRow[], opts: { every: number; offset: number; maxItems: number }): UciRow[] {
  const size = new Map<string, number>();
  for (const r of rows) size.set(r.story, (size.get(r.story) ?? 0) + 1);
  const ids = [...size.keys()].sort();
  const chosen = new Set<string>();
  let total = 0;
  for (let i = opts.offset; i < ids.length; i += opts.every) {
    const id = ids[i] as string;
    const n = size.get(id) ?? 0;
    if (total + n > opts.maxItems) continue;
    chosen.add(id);
    total += n;
  }
  return rows.filter((r) => chosen.has(r.story));
}

/** The body item POST /v1/items takes for a UCI row (the guid keeps rows with equal URLs apart). */
export function feedItem(r: UciRow) {
  return {
    source: r.hostname || r.publisher || 'unknown',
    url: r.url,
    title: r.title,
    guid: `uci:${r.id}`,
    published_at: new Date(r.timestamp).toISOString(),
  };
}

/**
 * Recall@10 of one query: of the story's other headlines (the query's own item excluded), the
 * share found in the first 10 results, out of at most 10 (a story of 40 headlines scores 1 when
 * all 10 results are from it).
 */
export function recallAt10(resultIds: string[], queryId: string, storyIds: Iterable<string>): number {
  const relevant = new Set(storyIds);
  relevant.delete(queryId);
  if (relevant.size === 0) return Number.NaN;
  const top = resultIds.filter((id) => id !== queryId).slice(0, 10);
  return top.filter((id) => relevant.has(id)).length / Math.min(10, relevant.size);
}

/** Register every value subject of the prefixed topics, so stages and the API (no auto-register) find them. */
export async function registerPrefixedSubjects(prefix: string, registryUrl: string): Promise<void> {
  const t = (base: string) => `${prefix}${base}`;
  const serde = { autoRegister: true, prefix, registryUrl };
  await Promise.all([
    serdeFor('RawHeadline', t(topicNames.raw), serde).schemaId(),
    serdeFor('ClassifiedHeadline', t(topicNames.classified), serde).schemaId(),
    serdeFor('ClusteredHeadline', t(topicNames.clustered), serde).schemaId(),
    serdeFor('EmbeddedHeadline', t(topicNames.embedded), serde).schemaId(),
    serdeFor('IndexedHeadline', t(topicNames.indexed), serde).schemaId(),
    ...['classify', 'cluster', 'embed', 'index', 'materialize'].map((s) =>
      serdeFor('DeadLetter', t(`${s}.dlq`), serde).schemaId(),
    ),
  ]);
}

/** Delete (soft, then permanently) every registry subject naming the prefix. */
export async function deletePrefixedSubjects(prefix: string, registryUrl: string): Promise<void> {
  const subjects = (await fetch(`${registryUrl}/subjects`)
    .then((r) => r.json())
    .catch(() => [])) as string[];
  for (const s of subjects.filter((x) => x.includes(prefix))) {
    const u = `${registryUrl}/subjects/${encodeURIComponent(s)}`;
    await fetch(u, { method: 'DELETE' }).catch(() => undefined);
    await fetch(`${u}?permanent=true`, { method: 'DELETE' }).catch(() => undefined);
  }
}

/** The stage name a prefixed stage gets (as classify/embed derive theirs). */
export const prefixedStageName = (prefix: string, base: string) =>
  `${prefix.replace(/[^a-z0-9_.-]/gi, '-').replace(/^[^a-z]+/i, '')}${base}`;

export interface PipelineOptions {
  kafka: Kafka;
  prefix: string;
  registryUrl: string;
  embeddingBaseUrl: string;
  embeddingModel: string;
  /** the materializer's pool (search_path set to the test's schema, migrated) */
  pool: pg.Pool;
  indexDir: string;
  /** the index stage's backend (default: an EmbeddedIndex in indexDir), e.g. a QdrantIndex */
  index?: VectorIndex;
  /** the alias generation 1 is served under (default `headlines`) */
  alias?: string;
  log?: (line: string) => void;
}

export interface RunningPipeline {
  /** the index stage's writer (generation 1) */
  index: VectorIndex;
  /** dead letters reported by this run's stages */
  deadLetters: () => number;
  /** materializer errors seen */
  materializerErrors: string[];
  /** stop one stage alone (the others keep running), e.g. to watch its lag status turn */
  stopStage(stage: 'classify' | 'cluster' | 'embed' | 'index' | 'materialize'): Promise<void>;
  stop(): Promise<void>;
}

/**
 * classify → cluster → embed → index and the materializer, in this process, on the prefixed
 * topics; each stage its own consumer group (named after the prefix). The index stage serves
 * generation 1 under the `headlines` alias (o.alias) once it wrote something, as its main.ts does.
 */
export async function startPipeline(o: PipelineOptions): Promise<RunningPipeline> {
  const { kafka, prefix, registryUrl } = o;
  const log = o.log ?? (() => {});
  const stageNames = ['classify', 'cluster', 'embed', 'index'].map((s) => prefixedStageName(prefix, s));
  let dead = 0;
  const offDlq = subscribe('dlq', (e) => {
    if (stageNames.includes(e.stage)) dead++;
  });
  const stops: (() => Promise<unknown>)[] = [];
  const byStage = new Map<string, () => Promise<unknown>>();
  const index = o.index ?? new EmbeddedIndex({ dir: o.indexDir });
  let aliased = false;
  const offBatch = subscribe('batch', (b) => {
    if (aliased || b.recordsOut === 0 || b.stage !== stageNames[3]) return;
    aliased = true;
    index.flipAlias(o.alias ?? 'headlines', 1).catch(() => (aliased = false));
  });
  const materializerErrors: string[] = [];
  try {
    const classify = await runStage(
      classifyStage({
        model: loadClassifyModel(undefined),
        prefix,
        serde: { autoRegister: false, registryUrl },
        config: { batch: { maxRecords: 250, lingerMs: 20 } },
      }),
      { kafka, clientId: `${stageNames[0]}` },
    );
    stops.push(() => classify.stop());
    byStage.set('classify', () => classify.stop());
    // generation 1 of every stage reads generation 1 of the stage before it, as the stack's do: a
    // replay's generation 2 shares the topics (README, "Replay")
    const cl = clusterStage({ prefix, serde: { registryUrl }, config: { batch: { maxRecords: 500, lingerMs: 50 } } });
    const cluster = await runClusterStage(
      { ...cl, stage: onlyInputGeneration(cl.stage, 1, (v) => v.classification.run) },
      { kafka, clientId: `${stageNames[1]}`, maxIdleMs: 3_000 },
    );
    stops.push(() => cluster.stop());
    byStage.set('cluster', () => cluster.stop());
    const embed = await runStage(
      onlyInputGeneration(
        embedStage({
          settings: embeddingSettings({ baseUrl: o.embeddingBaseUrl, model: o.embeddingModel }),
          prefix,
          serde: { registryUrl },
        }),
        1,
        (v) => v.story.run,
      ),
      { kafka, clientId: `${stageNames[2]}` },
    );
    stops.push(() => embed.stop());
    byStage.set('embed', () => embed.stop());
    // the index stage names itself `index` whatever the prefix: give this run a group of its own
    const ix = onlyInputGeneration(
      indexStage({ index, generation: 1, prefix, serde: { registryUrl } }),
      1,
      (v) => v.embedding.run,
    );
    const ixName = stageNames[3] as string;
    const indexer = await runStage(
      { ...ix, name: ixName, groupId: groupIdFor(ixName, 1) },
      { kafka, clientId: ixName },
    );
    stops.push(() => indexer.stop());
    byStage.set('index', () => indexer.stop());
    const materializer = await startMaterializer({
      pool: o.pool,
      kafka,
      prefix,
      registryUrl,
      groupId: `${prefixedStageName(prefix, 'materialize')}.g1`,
      // refresh job_progress soon after bursts so the test sees the jobs finish promptly
      refresh: { intervalMs: 3_000, debounceMs: 300, maxDelayMs: 2_000 },
      onEvent: (e) => {
        if (e.event === 'error' || e.event === 'crash') {
          materializerErrors.push(JSON.stringify(e));
          log(`[materialize] ${JSON.stringify(e)}`);
        }
      },
    });
    stops.push(() => materializer.stop());
    byStage.set('materialize', () => materializer.stop());
  } catch (e) {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    offDlq();
    offBatch();
    await index.close();
    throw e;
  }
  return {
    index,
    deadLetters: () => dead,
    materializerErrors,
    async stopStage(stage) {
      await byStage.get(stage)?.();
    },
    async stop() {
      await Promise.all(stops.map((s) => s().catch((e) => log(`stop: ${String(e)}`))));
      offDlq();
      offBatch();
      await index.close();
    },
  };
}

/**
 * The API as `feedlog up` builds it (createServices → buildApp), pointed at the prefixed topics,
 * the test's PostgreSQL schema (search_path in the URL), its index directory and the embedder;
 * listening on an ephemeral port of 127.0.0.1.
 */
export async function startApi(
  config: FeedlogConfig,
  o: { prefix: string; schema: string; indexDir: string; embeddingBaseUrl: string; embeddingModel: string },
): Promise<{ app: FastifyInstance; base: string }> {
  const url = new URL(config.postgres.url);
  url.searchParams.set('options', `-c search_path=${o.schema}`);
  const services = createServices(
    { ...config, postgres: { ...config.postgres, url: url.toString() } },
    {
      FEEDLOG_TOPIC_PREFIX: o.prefix,
      INDEX_DIR: o.indexDir,
      EMBEDDING_BASE_URL: o.embeddingBaseUrl,
      EMBEDDING_MODEL: o.embeddingModel,
    },
  );
  const { settings: _s, ...opts } = services;
  const app = await buildApp(opts);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { app, base: `http://127.0.0.1:${port}` };
}

/** JSON over HTTP; throws with the status and message on a non-2xx answer. */
export async function api<T>(base: string, path: string, init: RequestInit & { key?: string } = {}): Promise<T> {
  const { key, ...rest } = init;
  const r = await fetch(base + path, {
    ...rest,
    headers: {
      ...(rest.body ? { 'content-type': 'application/json' } : {}),
      ...(key ? { 'x-api-key': key } : {}),
      ...(rest.headers as Record<string, string> | undefined),
    },
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await r.json()) as T & { message?: string };
  if (!r.ok) throw new Error(`${rest.method ?? 'GET'} ${path}: ${r.status} ${JSON.stringify(body).slice(0, 500)}`);
  return body;
}
