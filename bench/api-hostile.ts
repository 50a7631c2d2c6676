// The API's event loop under hostile bodies (issue 12): search latency and the API process's
// event-loop delay, unloaded and while clients post the largest bodies the API accepts (bodyLimit,
// API_BODY_LIMIT, 2 MiB by default) built to be expensive: 1 Mi-deep nested arrays, a flat array
// of 1 Mi values, and 500 items of oversized strings (passes the structure scan, so it is parsed
// and validated).
//   npx tsx bench/api-hostile.ts [--duration 15] [--rounds 1] [--variants lane] [--hostile 4]
//     [--searchers 4] [--items 5000] [--body-limit 2] [--kinds deep,flat,strings] [--nice 19]
//     [--cpu-prof DIR] [--json]
// --body-limit in MiB: the API's bodyLimit, and the size of every hostile body. --variants: one
// API child each, `inline` (every body parsed and validated on the event loop, largeBodies:false),
// `lane` (bodies ≥ 64 KiB through the body worker at niceness --nice, read into its receive slots)
// and/or `lane-concat` (the lane as first built: every admitted body read at once as a chunk list,
// concatenated, handed to the worker; largeBodies.slots:false); each round runs
// every variant unloaded then loaded, so variants see the same (shared, changing) machine load.
// The API runs in a child process (its own event loop, measured with monitorEventLoopDelay), with
// real PostgreSQL (a schema of its own) and the embedded vector index; the query embedder is a stub
// (a pre-drawn vector) so the figure is the API's own work, not the embedding model's.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { buildApp, MemorySink, PgApiKeyStore } from '@feedlog/api';
import { loadConfig } from '@feedlog/common';
import { EmbeddedIndex } from '@feedlog/index';
import { migrate } from '@feedlog/migrations';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    hostile: { type: 'string', default: '4' },
    searchers: { type: 'string', default: '4' },
    items: { type: 'string', default: '5000' },
    'body-limit': { type: 'string', default: '2' },
    kinds: { type: 'string', default: 'deep,flat,strings' },
    variants: { type: 'string', default: 'lane' },
    rounds: { type: 'string', default: '1' },
    nice: { type: 'string', default: '19' },
    rate: { type: 'string' },
    'cpu-prof': { type: 'string' },
    json: { type: 'boolean', default: false },
    serve: { type: 'boolean', default: false },
    attack: { type: 'boolean', default: false },
  },
});
const DIMS = 64;
const BODY_LIMIT = Number(values['body-limit']) * 1024 * 1024;
const log = (s: string) => process.stderr.write(`[bench/api-hostile] ${s}\n`);
const config = loadConfig();

function vector(seed: number): Float32Array {
  const v = new Float32Array(DIMS);
  let x = seed * 2654435761;
  for (let i = 0; i < DIMS; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    v[i] = (x / 2 ** 32) * 2 - 1;
  }
  const n = Math.hypot(...v) || 1;
  return v.map((a) => a / n);
}

/**
 * CPU time the API's main thread (the event loop, not the body worker or libuv's threads) has
 * used, in ms (Linux: /proc/self/task/<pid>/stat utime + stime; NaN elsewhere). Unlike wall
 * times it hardly moves with other processes' load, so it measures the main thread's own work.
 */
function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // fields 14, 15 in clock ticks (USER_HZ 100)
  } catch {
    return Number.NaN;
  }
}

/** The child: corpus, app, listen, report the port, then the event-loop delay per phase on request. */
async function serve(): Promise<void> {
  const n = Number(values.items);
  const schema = `bench_hostile_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const admin = new pg.Client({ connectionString: config.postgres.url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await admin.end();
  const url = new URL(config.postgres.url);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
  await migrate(pool);
  const ids = Array.from({ length: n }, (_, i) => `h-${i}`);
  await pool.query(
    `INSERT INTO items (item_id, job_id, source, url, title, published_at, ingested_at, category, story_id)
     SELECT id, 'bench', 'src', 'https://bench.example/' || id, 'Headline ' || id, now(), now(), 'b', 's-' || id
     FROM unnest($1::text[]) AS id`,
    [ids],
  );
  await pool.query(
    `INSERT INTO generations (stage, generation, model_name, status, serving) VALUES ('embed', 1, 'stub', 'serving', true)`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'feedlog-bench-hostile-'));
  const index = new EmbeddedIndex({ dir });
  await index.ensureGeneration(1, DIMS, 'cosine');
  for (let i = 0; i < n; i += 1000)
    await index.upsert(
      1,
      ids.slice(i, i + 1000).map((id, j) => ({
        itemId: id,
        vector: vector(i + j),
        payload: {
          title: `Headline ${id}`,
          url: `https://bench.example/${id}`,
          source: 'src',
          category: 'b',
          story_id: `s-${id}`,
          published_at: Date.now(),
        },
      })),
    );
  await index.flipAlias('headlines', 1);
  const store = new PgApiKeyStore(pool);
  const reader = (await store.create('bench-reader', ['read'], 100_000_000)).key;
  const writer = (await store.create('bench-hostile', ['write'], 100_000_000)).key;
  const stub = vector(424242);
  const app = await buildApp({
    sink: new MemorySink(),
    encoder: { encode: async () => Buffer.alloc(0), check: async () => undefined },
    pool,
    index,
    embedder: { embed: async () => stub, check: async () => undefined },
    bodyLimit: BODY_LIMIT,
    largeBodies:
      process.env.BENCH_LANE === 'inline'
        ? false
        : {
            nice: Number(process.env.BENCH_NICE ?? 19),
            slots: process.env.BENCH_LANE !== 'lane-concat',
            ...(process.env.BENCH_LANE === 'lane-unpaced' ? { rate: 0 } : {}),
            ...(process.env.BENCH_RATE ? { rate: Number(process.env.BENCH_RATE) * 1024 * 1024 } : {}),
          },
    closeDependencies: true,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  let h = monitorEventLoopDelay({ resolution: 5 });
  let cpu0 = 0;
  process.on('message', async (m: { cmd: string }) => {
    if (m.cmd === 'start') {
      h = monitorEventLoopDelay({ resolution: 5 });
      h.enable();
      cpu0 = mainThreadCpuMs();
      process.send?.({ started: true });
    } else if (m.cmd === 'stop') {
      h.disable();
      process.send?.({
        eld: { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 },
        mainCpuMs: mainThreadCpuMs() - cpu0,
      });
    } else if (m.cmd === 'exit') {
      await app.close();
      const c = new pg.Client({ connectionString: config.postgres.url });
      await c.connect();
      await c.query(`DROP SCHEMA "${schema}" CASCADE`);
      await c.end();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }
  });
  process.send?.({ port, reader, writer });
}

function hostileBodies(): { kind: string; body: Buffer }[] {
  const half = BODY_LIMIT / 2 - 8;
  const deep = Buffer.from(`${'['.repeat(half)}${']'.repeat(half)}`);
  const flat = Buffer.from(`{"items":[${'1,'.repeat((BODY_LIMIT - 20) / 2)}1]}`);
  const title = 'x'.repeat(Math.floor((BODY_LIMIT - 200_000) / 500));
  const strings = Buffer.from(
    JSON.stringify({ items: Array.from({ length: 500 }, (_, i) => ({ source: 's', url: `https://e.x/${i}`, title })) }),
  );
  for (const b of [deep, flat, strings]) if (b.length > BODY_LIMIT) throw new Error('hostile body over the limit');
  const wanted = new Set(String(values.kinds).split(','));
  return [
    { kind: 'deep', body: deep },
    { kind: 'flat', body: flat },
    { kind: 'strings', body: strings },
  ].filter((b) => wanted.has(b.kind));
}

interface Api {
  variant: string;
  port: number;
  reader: string;
  writer: string;
  next: () => Promise<Record<string, unknown>>;
  send: (m: { cmd: string }) => void;
}

/** One API child per variant: `inline` parses every body on the event loop, `lane` uses the body lane. */
async function startApi(variant: string): Promise<Api> {
  const child = fork(
    process.argv[1]!,
    ['--serve', '--items', String(values.items), '--body-limit', String(values['body-limit'])],
    {
      // --cpu-prof DIR: a V8 CPU profile of the API process (open it in Chrome DevTools)
      execArgv: [
        ...process.execArgv,
        ...(values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`] : []),
      ],
      env: {
        ...process.env,
        BENCH_LANE: variant,
        BENCH_NICE: String(values.nice),
        ...(values.rate ? { BENCH_RATE: values.rate } : {}),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const next = () =>
    new Promise<Record<string, unknown>>((r) => child.once('message', (m) => r(m as Record<string, unknown>)));
  const ready = (await next()) as { port: number; reader: string; writer: string };
  log(`${variant}: API on 127.0.0.1:${ready.port}, ${values.items} items indexed`);
  return { variant, ...ready, next, send: (m) => child.send(m) };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const median = (xs: number[]) => pct(xs, 50);

async function main(): Promise<void> {
  const duration = Number(values.duration) * 1000;
  const variants = String(values.variants).split(',');
  const apis: Api[] = [];
  for (const v of variants) apis.push(await startApi(v));
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const call = (api: Api, method: string, path: string, headers: Record<string, string | number>, body?: Buffer) =>
    new Promise<{ status: number; ms: number }>((resolve) => {
      const t0 = performance.now();
      const req = request({ host: '127.0.0.1', port: api.port, method, path, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      });
      req.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
      req.end(body);
    });
  const words = ['rates', 'fed', 'markets', 'apple', 'oil', 'election', 'storm', 'court'];
  const search = async (api: Api, until: number, out: number[]) => {
    for (let i = 0; performance.now() < until; i++) {
      const r = await call(api, 'GET', `/v1/search?q=${words[i % words.length]}&limit=10`, {
        'x-api-key': api.reader,
      });
      if (r.status !== 200) throw new Error(`search answered ${r.status}`);
      out.push(r.ms);
    }
  };
  const bodies = hostileBodies();
  type Stats = { n: number; statuses: Map<number, number>; ms: number[] };
  const hostileStats = new Map<string, Stats>(); // key: variant/kind
  // The hostile clients run in a process of their own, as they would on other machines: their
  // 2 MiB writes do not delay the search clients' event loop (only the shared CPU).
  const attacker = fork(
    process.argv[1]!,
    ['--attack', '--body-limit', String(values['body-limit']), '--kinds', String(values.kinds)],
    {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const hostile = (api: Api, ms: number) =>
    new Promise<void>((resolve) => {
      attacker.once('message', (m: { kind: string; statuses: [number, number][]; ms: number[] }[]) => {
        for (const k of m) {
          const key = `${api.variant}/${k.kind}`;
          const s = hostileStats.get(key) ?? { n: 0, statuses: new Map<number, number>(), ms: [] };
          s.n += k.ms.length;
          for (const [st, n] of k.statuses) s.statuses.set(st, (s.statuses.get(st) ?? 0) + n);
          s.ms.push(...k.ms);
          hostileStats.set(key, s);
        }
        resolve();
      });
      attacker.send({ port: api.port, writer: api.writer, ms, clients: Number(values.hostile) });
    });
  const phase = async (api: Api, round: number, name: string, withHostile: boolean, pooled: number[]) => {
    // warm-up, then measure
    await Promise.all(
      Array.from({ length: Number(values.searchers) }, () => search(api, performance.now() + 1000, [])),
    );
    api.send({ cmd: 'start' });
    await api.next();
    const until = performance.now() + duration;
    const lat: number[] = [];
    await Promise.all([
      ...Array.from({ length: Number(values.searchers) }, () => search(api, until, lat)),
      ...(withHostile ? [hostile(api, duration)] : []),
    ]);
    api.send({ cmd: 'stop' });
    const { eld, mainCpuMs } = (await api.next()) as {
      eld: { p50: number; p99: number; max: number };
      mainCpuMs: number;
    };
    pooled.push(...lat);
    log(
      `round ${round} ${api.variant} ${name}: ${lat.length} searches, p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms; event-loop delay p99 ${eld.p99.toFixed(1)} ms, main thread CPU ${mainCpuMs.toFixed(0)} ms`,
    );
    return {
      round,
      variant: api.variant,
      phase: name,
      searches: lat.length,
      search_p50_ms: pct(lat, 50),
      search_p99_ms: pct(lat, 99),
      eld_p50_ms: eld.p50,
      eld_p99_ms: eld.p99,
      eld_max_ms: eld.max,
      main_cpu_ms: mainCpuMs,
    };
  };
  // rounds alternate the variants, so each sees the same (shared, changing) machine load
  const rows: Awaited<ReturnType<typeof phase>>[] = [];
  const pooled = new Map(variants.map((v) => [v, { unloaded: [] as number[], hostile: [] as number[] }]));
  for (let round = 1; round <= Number(values.rounds); round++)
    for (const api of apis) {
      const pool = pooled.get(api.variant)!;
      rows.push(await phase(api, round, 'unloaded', false, pool.unloaded));
      rows.push(await phase(api, round, 'hostile', true, pool.hostile));
    }
  for (const api of apis) api.send({ cmd: 'exit' });
  attacker.kill();
  const summary = variants.map((variant) => {
    const mine = rows.filter((r) => r.variant === variant);
    const ratios = mine
      .filter((r) => r.phase === 'hostile')
      .map((h) => h.search_p99_ms / mine.find((u) => u.round === h.round && u.phase === 'unloaded')!.search_p99_ms);
    const p = pooled.get(variant)!;
    return {
      variant,
      p99_ratio_per_round: ratios.map((r) => r.toFixed(2)).join(' '),
      p99_ratio_median: median(ratios),
      pooled_unloaded_p99_ms: pct(p.unloaded, 99),
      pooled_hostile_p99_ms: pct(p.hostile, 99),
      eld_p99_hostile_median_ms: median(mine.filter((r) => r.phase === 'hostile').map((r) => r.eld_p99_ms)),
      eld_p99_unloaded_median_ms: median(mine.filter((r) => r.phase === 'unloaded').map((r) => r.eld_p99_ms)),
    };
  });
  const hostileRows = [...hostileStats].map(([key, s]) => ({
    key,
    requests: s.n,
    statuses: [...s.statuses].map(([k, n]) => `${k}×${n}`).join(' '),
    p50_ms: pct(s.ms, 50),
    p99_ms: pct(s.ms, 99),
  }));
  const result = {
    duration_s: duration / 1000,
    rounds: Number(values.rounds),
    searchers: Number(values.searchers),
    hostile_clients: Number(values.hostile),
    body_bytes: bodies.map((b) => `${b.kind}=${b.body.length}`).join(' '),
    phases: rows,
    summary,
    hostile: hostileRows,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    console.table(rows);
    console.table(hostileRows);
    console.table(summary);
  }
  agent.destroy();
}

/** The hostile clients' process: on each message, `clients` loops post the hostile bodies for `ms`. */
function attack(): void {
  const bodies = hostileBodies();
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  process.on('message', async (m: { port: number; writer: string; ms: number; clients: number }) => {
    const until = performance.now() + m.ms;
    const stats = new Map(bodies.map((b) => [b.kind, { statuses: new Map<number, number>(), ms: [] as number[] }]));
    const post = (b: { body: Buffer }) =>
      new Promise<{ status: number; ms: number }>((resolve) => {
        const t0 = performance.now();
        const headers = { 'content-type': 'application/json', 'content-length': b.body.length, 'x-api-key': m.writer };
        const req = request(
          { host: '127.0.0.1', port: m.port, method: 'POST', path: '/v1/items', headers, agent },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
          },
        );
        req.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
        req.end(b.body);
      });
    await Promise.all(
      Array.from({ length: m.clients }, async (_, c) => {
        for (let i = c; performance.now() < until; i++) {
          const b = bodies[i % bodies.length]!;
          const r = await post(b);
          const s = stats.get(b.kind)!;
          s.statuses.set(r.status, (s.statuses.get(r.status) ?? 0) + 1);
          s.ms.push(r.ms);
        }
      }),
    );
    process.send?.([...stats].map(([kind, s]) => ({ kind, statuses: [...s.statuses], ms: s.ms })));
  });
}

if (values.attack) attack();
else if (values.serve) await serve();
else await main();
