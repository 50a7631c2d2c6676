/**
 * Idle CPU of the long-running processes: each is started as the stack starts it (its main.ts, in
 * a child node process) on topics of its own (a unique FEEDLOG_TOPIC_PREFIX), waits
 * until it is ready and nothing flows, then its CPU (utime + stime from /proc/<pid>/stat) is
 * sampled over --seconds and printed as % of one core. Then one record is produced and the time
 * until the process has handled it is the first-record latency after idle.
 *
 *   npx tsx bench/idle.ts [--seconds 60] [--settle 5] [--procs classify,materialize,api] [--variants new,old] [--json]
 *
 * Variants: `new` runs the processes with the code's defaults; `old` sets the environment overrides
 * that restore the settings before the idle tuning (kafkajs as released, fetch wait 500 ms / 250 ms,
 * event-loop monitor at 10 ms, the API's replay check every second), so both are measured in the same run on the same machine.
 * `--profile DIR` adds `--cpu-prof --cpu-prof-dir DIR` to the children (a profile of the idle
 * window, written when the child exits).
 *
 * Latency: classify — produce one raw headline, wait for the stage's `batch` log line (LOG_BATCHES=1);
 * materialize — produce one classified record, wait for its `batch` line. api — no Kafka input of
 * its own (it only produces on ingest), so only its idle CPU.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createKafka, loadConfig } from '@feedlog/common';
import { type ClassifiedHeadline, itemId, type RawHeadline, serdeFor } from '@feedlog/schemas';
import { applyTopics, declareFeedlog, topicNames } from '@feedlog/topics';
import pg from 'pg';

const args = process.argv.slice(2);
const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const SECONDS = Number(arg('--seconds') ?? 60);
const SETTLE = Number(arg('--settle') ?? 5);
const PROCS = (arg('--procs') ?? 'classify,materialize,api').split(',') as Proc[];
const VARIANTS = (arg('--variants') ?? 'new,old').split(',') as Variant[];
const PROFILE = arg('--profile');
const asJson = args.includes('--json');
const THREADS = args.includes('--threads');
/** --env K=V (repeatable): extra environment for every child, e.g. FEEDLOG_FETCH_MAX_WAIT_MS=2000 */
const EXTRA_ENV: Record<string, string> = Object.fromEntries(
  args.flatMap((a, i) => (a === '--env' && args[i + 1]?.includes('=') ? [args[i + 1]!.split(/=(.*)/s, 2)] : [])),
);
const log = (s: string) => process.stderr.write(`${s}\n`);

type Proc = 'classify' | 'materialize' | 'api';
type Variant = 'new' | 'old';

/** The settings before the idle tuning, through the environment overrides the code reads. */
const oldEnv = (proc: Proc): Record<string, string> => ({
  FEEDLOG_KAFKAJS_IDLE_FIX: '0',
  // fetch wait: the stages' default was 500 ms, the materializer's 250 ms
  FEEDLOG_FETCH_MAX_WAIT_MS: proc === 'materialize' ? '250' : '500',
  FEEDLOG_EVENT_LOOP_RESOLUTION_MS: '10',
  // the API looked for a replay to advance every second
  API_REPLAY_IDLE_CHECK_MS: '1000',
});

const root = fileURLToPath(new URL('..', import.meta.url));
const entries: Record<Proc, string> = {
  classify: 'processors/classify/src/main.ts',
  materialize: 'processors/materialize/src/main.ts',
  api: 'api/src/server.ts',
};

const config = loadConfig();
const kafka = createKafka(config, { clientId: 'bench-idle' });
const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64

/** utime + stime of each thread of a process (name → seconds), for --threads */
function threadSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(`${name}#${tid}`, (Number(f[11]) + Number(f[12])) / CLK_TCK);
  }
  return out;
}

/** utime + stime of a process, in seconds */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command name (field 2) may hold spaces: count fields after its closing parenthesis
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface Child {
  child: ChildProcess;
  /** resolves on the first stdout line for which `match` is true */
  waitLine(match: (line: string) => boolean, timeoutMs: number): Promise<string>;
  stop(): Promise<void>;
}

function start(proc: Proc, env: Record<string, string>): Child {
  const node = [...(PROFILE ? ['--cpu-prof', '--cpu-prof-dir', PROFILE] : []), '--import', 'tsx', entries[proc]];
  const child = spawn(process.execPath, node, { cwd: root, env: { ...process.env, ...env }, stdio: 'pipe' });
  let buf = '';
  const waiters: { match: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  const onLine = (line: string) => {
    for (const w of [...waiters])
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
  };
  const onData = (d: Buffer) => {
    buf += d.toString();
    let i = buf.indexOf('\n');
    while (i >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
      i = buf.indexOf('\n');
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    waitLine: (match, timeoutMs) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${proc}: no matching line in ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
        void exited.then(() => reject(new Error(`${proc} exited (${child.exitCode})`)));
      }),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

function rawHeadline(job: string): RawHeadline {
  const url = `https://bench.example/idle/${randomUUID()}`;
  const now = Date.now();
  return {
    item_id: itemId({ source: 'bench', guid: null, url }),
    job_id: job,
    headline: {
      source: 'bench',
      guid: null,
      url,
      title: 'Federal Reserve holds interest rates as inflation cools',
      summary: null,
      published_at: now,
      ingested_at: now,
    },
  };
}

async function produceOne(topic: string, key: string, value: Buffer) {
  const p = kafka.producer({ idempotent: true });
  await p.connect();
  await p.send({ topic, acks: -1, messages: [{ key, value }] });
  await p.disconnect();
}

interface Env {
  prefix: string;
  schema: string;
  dbUrl: string;
  cleanup(): Promise<void>;
}

async function environment(): Promise<Env> {
  const prefix = `bench-idle-${randomUUID().slice(0, 8)}.`;
  const admin = kafka.admin();
  await applyTopics({ admin, prefix });
  await admin.disconnect();
  const serde = { autoRegister: true, prefix };
  const t = (b: string) => `${prefix}${b}`;
  await Promise.all([
    serdeFor('RawHeadline', t(topicNames.raw), serde).schemaId(),
    serdeFor('ClassifiedHeadline', t(topicNames.classified), serde).schemaId(),
    serdeFor('DeadLetter', t('classify.dlq'), serde).schemaId(),
  ]);
  const schema = `bench_idle_${randomUUID().slice(0, 8)}`;
  const pool = new pg.Pool({ connectionString: config.postgres.url, max: 1 });
  await pool.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(config.postgres.url);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    prefix,
    schema,
    dbUrl: url.toString(),
    async cleanup() {
      await pool.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => {});
      await pool.end();
      const a = kafka.admin();
      await a.connect();
      await a.deleteTopics({ topics: declareFeedlog({ prefix }).topics.map((x) => x.name) }).catch(() => {});
      await a.disconnect();
    },
  };
}

interface Result {
  proc: Proc;
  variant: Variant;
  seconds: number;
  cpuPercent: number;
  firstRecordMs: number | null;
}

async function measure(proc: Proc, variant: Variant, e: Env): Promise<Result> {
  const group = `bench-idle-${proc}-${randomUUID().slice(0, 8)}`;
  const common: Record<string, string> = {
    FEEDLOG_TOPIC_PREFIX: e.prefix,
    DATABASE_URL: e.dbUrl,
    ...EXTRA_ENV,
    ...(variant === 'old' ? oldEnv(proc) : {}),
  };
  const env: Record<string, string> =
    proc === 'classify'
      ? { ...common, LOG_BATCHES: '1', STAGE_GENERATION: String(1000 + Math.floor(Math.random() * 1e6)) }
      : proc === 'materialize'
        ? { ...common, MATERIALIZE_GROUP: group, MATERIALIZE_APP_NAME: group }
        : { ...common, API_PORT: String(await freePort()), API_HOST: '127.0.0.1', INDEX_DIR: `/tmp/${group}` };
  const c = start(proc, env);
  try {
    const ready =
      proc === 'api' ? (l: string) => l.includes('Server listening') : (l: string) => l.includes('"event":"ready"');
    await c.waitLine(ready, 120_000);
    await sleep(SETTLE * 1000);
    const pid = c.child.pid!;
    const c0 = cpuSeconds(pid);
    const th0 = THREADS ? threadSeconds(pid) : undefined;
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const used = cpuSeconds(pid) - c0;
    const wall = (performance.now() - t0) / 1000;
    if (th0)
      for (const [name, sec] of threadSeconds(pid)) {
        const d = sec - (th0.get(name) ?? 0);
        if (d > 0) log(`  ${proc} ${variant} thread ${name}: ${((100 * d) / wall).toFixed(2)} %`);
      }
    let firstRecordMs: number | null = null;
    if (proc === 'classify' || proc === 'materialize') {
      const batch = c.waitLine((l) => l.includes('"event":"batch"'), 60_000);
      const s0 = performance.now();
      if (proc === 'classify') {
        const r = rawHeadline(`bench-idle-${group}`);
        const serde = serdeFor('RawHeadline', `${e.prefix}${topicNames.raw}`, { prefix: e.prefix });
        await produceOne(`${e.prefix}${topicNames.raw}`, r.item_id, await serde.encode(r));
      } else {
        const r = classified(`bench-idle-${group}`);
        const serde = serdeFor('ClassifiedHeadline', `${e.prefix}${topicNames.classified}`, { prefix: e.prefix });
        await produceOne(`${e.prefix}${topicNames.classified}`, r.item_id, await serde.encode(r));
      }
      await batch;
      firstRecordMs = performance.now() - s0;
    }
    return { proc, variant, seconds: wall, cpuPercent: (100 * used) / wall, firstRecordMs };
  } finally {
    await c.stop();
  }
}

function classified(job: string): ClassifiedHeadline {
  const { item_id, job_id, headline } = rawHeadline(job);
  const run = { model_name: 'bench', model_version: '1', generation: 1, produced_at: Date.now() };
  return { item_id, job_id, headline, classification: { category: 'b', confidence: 0.9, run } };
}

const load0 = loadavg();
log(
  `idle: ${PROCS.join(', ')} × ${VARIANTS.join(', ')}, ${SECONDS} s each; load ${load0.map((x) => x.toFixed(2)).join(' ')}`,
);
const e = await environment();
const results: Result[] = [];
try {
  for (const proc of PROCS)
    for (const variant of VARIANTS) {
      const r = await measure(proc, variant, e);
      log(
        `${proc.padEnd(12)} ${variant.padEnd(4)} ${r.cpuPercent.toFixed(2).padStart(6)} % of a core over ${r.seconds.toFixed(1)} s` +
          (r.firstRecordMs === null ? '' : `; first record after idle ${r.firstRecordMs.toFixed(0)} ms`),
      );
      results.push(r);
    }
} finally {
  await e.cleanup();
}
const load1 = loadavg();
if (asJson) console.log(JSON.stringify({ load: [load0, load1], results }, null, 2));
else {
  console.log('| process | settings | CPU % of a core | first record after idle (ms) |');
  console.log('|---|---|---:|---:|');
  for (const r of results)
    console.log(
      `| ${r.proc} | ${r.variant} | ${r.cpuPercent.toFixed(2)} | ${r.firstRecordMs === null ? '—' : r.firstRecordMs.toFixed(0)} |`,
    );
  console.log(
    `load before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}`,
  );
}
