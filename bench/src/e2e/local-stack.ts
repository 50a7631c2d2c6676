// The e2e benchmark on the local stack (`feedlog up`): its API, its processes (PIDs from the
// launcher), and for `--embedder stub|real` the two stages that embed (cluster, for clustering on
// meaning, and embed) restarted on the stub or the stack's embedder; restored as they were
// afterwards. Pushed titles are unique (headlines.ts), so a cache never answers for the model:
// with the real model both keep the stack's shared embedding cache (cluster embeds a text, embed
// finds it there: one model call per item); on the stub the cache is off (a PostgreSQL round trip
// costs more than the stub's answer, and the run measures the broker and the runtime).
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PgApiKeyStore } from '@feedlog/api';
import { createKafka, type FeedlogConfig, repoRoot } from '@feedlog/common';
import { LaunchError } from '@feedlog/scripts/launch/errors';
import { stackDown, stackStatus, stackUp } from '@feedlog/scripts/stack';
import { topicNames } from '@feedlog/topics';
import type pg from 'pg';

export type EmbedderMode = 'stack' | 'stub' | 'real';

export interface LocalStack {
  baseUrl: string;
  apiKey: string;
  pids: Record<string, number>;
  embedder: { baseUrl: string; model: string; kind: string };
  partitions: number;
  restore(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok;
  } catch {
    return false;
  }
}

function startStub(port: number, log: (s: string) => void): ChildProcess {
  const root = repoRoot();
  const tsx = createRequire(join(root, 'package.json')).resolve('tsx');
  log(`starting the stub embedder on 127.0.0.1:${port}`);
  return spawn(
    process.execPath,
    ['--import', tsx, join(root, 'bench/src/e2e/stub-embedder.ts'), '--port', String(port)],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
}

type Env = Record<string, string | undefined>;

function setEnv(env: Env): Env {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return saved;
}

/**
 * Starts `stage` with `env` over this process's environment (the launcher passes process.env on;
 * the cluster stage's EMBEDDING_BASE_URL comes from the configuration, so that is overridden too).
 */
async function startWithEnv(cfg: FeedlogConfig, stage: string, env: Env, log: (s: string) => void): Promise<void> {
  const saved = setEnv(env);
  try {
    const baseUrl = env.EMBEDDING_BASE_URL ?? cfg.embedder.baseUrl;
    await stackUp({ ...cfg, embedder: { ...cfg.embedder, baseUrl } }, log, [stage]);
  } finally {
    setEnv(saved);
  }
}

/** the stages that call the embedder */
const embedding = ['cluster', 'embed'];

async function restartEmbedding(cfg: FeedlogConfig, env: Env, log: (s: string) => void) {
  await stackDown(cfg, embedding);
  for (const stage of embedding) await startWithEnv(cfg, stage, env, log);
}

export async function prepareLocalStack(
  cfg: FeedlogConfig,
  pool: pg.Pool,
  mode: EmbedderMode,
  log: (s: string) => void,
): Promise<LocalStack> {
  const baseUrl = `http://127.0.0.1:${cfg.api.port}`;
  if (!(await answers(`${baseUrl}/healthz`))) {
    throw new LaunchError(`the API does not answer on ${baseUrl}`, {
      hint: 'start the stack with `feedlog up` (same environment: API_PORT, FEEDLOG_HOME…) first',
    });
  }
  const model = process.env.EMBEDDING_MODEL || 'all-MiniLM-L6-v2-int8';
  const original = { EMBEDDING_BASE_URL: process.env.EMBEDDING_BASE_URL, EMBED_CACHE: process.env.EMBED_CACHE };
  let stub: ChildProcess | undefined;
  let embedder = { baseUrl: cfg.embedder.baseUrl, model, kind: 'stack (as configured)' };
  if (mode === 'stub') {
    const port = Number(cfg.embedder.port) + 100;
    stub = startStub(port, log);
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; !(await answers(`${url}/healthz`)); i++) {
      if (i > 100 || stub.exitCode !== null) throw new Error(`the stub embedder did not start on ${url}`);
      await sleep(200);
    }
    embedder = { baseUrl: `${url}/v1`, model, kind: 'stub' };
  } else if (mode === 'real') {
    embedder = { ...embedder, kind: 'real' };
  }
  if (mode !== 'stack') {
    const cache = mode === 'stub' ? 'off' : original.EMBED_CACHE;
    log(`restarting cluster and embed: EMBEDDING_BASE_URL=${embedder.baseUrl}, EMBED_CACHE=${cache ?? '(default)'}`);
    await restartEmbedding(cfg, { EMBEDDING_BASE_URL: embedder.baseUrl, EMBED_CACHE: cache }, log);
  }
  const pids: Record<string, number> = { loadgen: process.pid };
  for (const s of await stackStatus(cfg)) if (s.pid && s.state !== 'stopped') pids[s.component] = s.pid;
  if (stub?.pid) pids['stub-embedder'] = stub.pid;
  const { key } = await new PgApiKeyStore(pool).create('feedlog-bench-e2e', ['read', 'write'], 10_000_000);
  const admin = createKafka(cfg, { clientId: 'bench-e2e' }).admin();
  await admin.connect();
  const meta = await admin.fetchTopicMetadata({ topics: [topicNames.raw] });
  await admin.disconnect();
  return {
    baseUrl,
    apiKey: key,
    pids,
    embedder,
    partitions: meta.topics[0]?.partitions.length ?? 1,
    async restore() {
      if (mode !== 'stack') {
        log('restoring cluster and embed as the stack runs them');
        await restartEmbedding(cfg, original, log);
      }
      stub?.kill('SIGTERM');
    },
  };
}

/**
 * A crash of one stage process of the stack: SIGKILL, `downMs` away, then started again by the
 * launcher (stale PID file removed) with `env` over this process's environment.
 */
export async function crashRestartStage(
  cfg: FeedlogConfig,
  stage: string,
  downMs: number,
  env: Env,
  log: (s: string) => void,
): Promise<void> {
  const pid = (await stackStatus(cfg)).find((s) => s.component === stage)?.pid;
  if (!pid) throw new LaunchError(`${stage} is not running in the stack`, { hint: 'feedlog up' });
  process.kill(pid, 'SIGKILL');
  await sleep(downMs);
  await startWithEnv(cfg, stage, env, log);
}
