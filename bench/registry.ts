// Schema registry latency: register and lookup, with the client cache cold and warm, for both real
// clients, against feedlog's registry running as its own process on a scratch PostgreSQL schema.
//   node --import tsx bench/registry.ts [--n 300] [--json] [--url http://host:8081 (use a running registry)]
// Baseline in the same run: a bare HTTP round trip to the registry (GET /, no database).
// "cold" = a new client instance per operation (nothing cached); "warm" = one client, entry cached.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { SchemaRegistryClient } from '@confluentinc/schemaregistry';
import { loadConfig } from '@feedlog/common';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import pg from 'pg';

const args = process.argv.slice(2);
const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const N = Number(arg('--n') ?? 300) || 300;
const asJson = args.includes('--json');
const root = resolve(import.meta.dirname, '..');
const config = loadConfig();

async function startRegistry(): Promise<{ url: string; stop: () => Promise<void> }> {
  const given = arg('--url');
  if (given) return { url: given, stop: async () => {} };
  const pgSchema = `bench_registry_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(process.execPath, ['--import', 'tsx', 'processors/registry/src/main.ts'], {
    cwd: root,
    env: { ...process.env, SCHEMA_REGISTRY_PORT: String(port), SCHEMA_REGISTRY_PG_SCHEMA: pgSchema, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((ok, fail) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('schema registry ready')) ok();
    });
    child.on('exit', (code) => fail(new Error(`registry exited with ${code}: ${buf}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      const c = new pg.Client({ connectionString: config.postgres.url });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
      await c.end();
    },
  };
}

interface Row {
  op: string;
  n: number;
  p50: number;
  p99: number;
  mean: number;
  opsPerSec: number;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function measure(op: string, n: number, fn: (i: number) => Promise<unknown>): Promise<Row> {
  for (let i = 0; i < Math.min(20, n); i++) await fn(n + i); // warm the JIT and connections, not the caches under test
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await fn(i);
    times.push(performance.now() - s);
  }
  const total = performance.now() - t0;
  times.sort((a, b) => a - b);
  return {
    op,
    n,
    p50: pct(times, 50),
    p99: pct(times, 99),
    mean: times.reduce((a, b) => a + b, 0) / n,
    opsPerSec: (n / total) * 1000,
  };
}

const schemaFor = (i: number, tag: string) =>
  JSON.stringify({
    type: 'record',
    name: `Bench${tag}${i}`,
    namespace: 'feedlog.bench',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'title', type: 'string' },
      { name: 'published_at', type: 'long' },
      { name: 'tags', type: { type: 'array', items: 'string' }, default: [] },
    ],
  });

const { url, stop } = await startRegistry();
const rows: Row[] = [];
try {
  rows.push(
    await measure('HTTP round trip GET / (baseline)', N, async () => {
      const r = await fetch(`${url}/`);
      await r.arrayBuffer();
    }),
  );

  // @confluentinc/schemaregistry
  const shared = new SchemaRegistryClient({ baseURLs: [url] });
  const fresh = () => new SchemaRegistryClient({ baseURLs: [url] });
  const info = (i: number, tag: string) => ({ schemaType: 'AVRO', schema: schemaFor(i, tag) });
  rows.push(
    await measure('confluent register, new schema', N, (i) => shared.register(`bench-c-${i}-value`, info(i, 'C'))),
  );
  rows.push(
    await measure('confluent register, existing, cold cache', N, (i) =>
      fresh().register(`bench-c-${i % N}-value`, info(i % N, 'C')),
    ),
  );
  rows.push(
    await measure('confluent register, existing, warm cache', N * 10, (i) =>
      shared.register(`bench-c-${i % N}-value`, info(i % N, 'C')),
    ),
  );
  const ids = await Promise.all(Array.from({ length: N }, (_, i) => shared.getId(`bench-c-${i}-value`, info(i, 'C'))));
  rows.push(
    await measure('confluent schema by id, cold cache', N, (i) =>
      fresh().getBySubjectAndId(`bench-c-${i % N}-value`, ids[i % N] as number),
    ),
  );
  rows.push(
    await measure('confluent schema by id, warm cache', N * 10, (i) =>
      shared.getBySubjectAndId(`bench-c-${i % N}-value`, ids[i % N] as number),
    ),
  );
  rows.push(
    await measure('confluent lookup (POST /subjects/s), cold', N, (i) =>
      fresh().getId(`bench-c-${i % N}-value`, info(i % N, 'C')),
    ),
  );

  // @kafkajs/confluent-schema-registry
  const kjs = new SchemaRegistry({ host: url });
  const kinfo = (i: number) => ({ type: SchemaType.AVRO as const, schema: schemaFor(i, 'K') });
  rows.push(
    await measure('kafkajs register, new schema', N, (i) => kjs.register(kinfo(i), { subject: `bench-k-${i}-value` })),
  );
  rows.push(
    await measure('kafkajs register, existing schema', N, (i) =>
      kjs.register(kinfo(i % N), { subject: `bench-k-${i % N}-value` }),
    ),
  );
  const kids = await Promise.all(Array.from({ length: N }, (_, i) => kjs.getLatestSchemaId(`bench-k-${i}-value`)));
  rows.push(
    await measure('kafkajs getSchema(id), cold cache', N, (i) =>
      new SchemaRegistry({ host: url }).getSchema(kids[i % N] as number),
    ),
  );
  rows.push(await measure('kafkajs getSchema(id), warm cache', N * 10, (i) => kjs.getSchema(kids[i % N] as number)));
  rows.push(
    await measure('kafkajs getLatestSchemaId (not cached)', N, (i) => kjs.getLatestSchemaId(`bench-k-${i % N}-value`)),
  );
} finally {
  await stop();
}

const base = rows[0]?.p50 ?? 1;
if (asJson) {
  process.stdout.write(`${JSON.stringify({ n: N, rows }, null, 2)}\n`);
} else {
  const fmt = (x: number) => (x < 0.1 ? x.toFixed(4) : x.toFixed(2));
  process.stdout.write(`schema registry latency (ms), n=${N} per op (warm ×10), registry ${url}\n`);
  process.stdout.write(
    `${'operation'.padEnd(44)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'mean'.padStart(8)} ${'ops/s'.padStart(9)}  p50 vs HTTP baseline\n`,
  );
  for (const r of rows) {
    process.stdout.write(
      `${r.op.padEnd(44)} ${fmt(r.p50).padStart(8)} ${fmt(r.p99).padStart(8)} ${fmt(r.mean).padStart(8)} ${r.opsPerSec.toFixed(0).padStart(9)}  ${(r.p50 / base).toFixed(2)}×\n`,
    );
  }
}
