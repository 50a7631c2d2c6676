// Poller throughput: N feeds (default 200) served by a loopback HTTP server from the real files of
// ../shared/data/feeds (own fixtures without it), polled by one Poller into a fresh prefixed
// raw-headlines, registry in its own PostgreSQL schema. Round 1: every feed new (fetch, parse,
// produce every item); round 2: every feed answers 304 (ETag); round 3: no ETag, same bodies
// (fetch + parse, nothing new to produce).
//   npx tsx bench/poller.ts [--feeds 200] [--concurrency 8,32] [--json]
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKafka, loadConfig } from '@feedlog/common';
import { readCheck, sharedFeedsDir } from '@feedlog/poller/check';
import { Poller } from '@feedlog/poller/poller';
import { KafkaRawSink } from '@feedlog/poller/producer';
import { parseSchedule } from '@feedlog/poller/schedule';
import { FeedStore } from '@feedlog/poller/store';
import pg from 'pg';
import { migrate } from '../migrations/src/index.ts';
import { FeedServer } from '../processors/poller/test/feed-server.ts';

const args = process.argv.slice(2);
const opt = (name: string, d: string) => (args.includes(name) ? (args[args.indexOf(name) + 1] ?? d) : d);
const N = Number(opt('--feeds', '200'));
const concurrencies = opt('--concurrency', '8,32').split(',').map(Number);
const log = (s: string) => process.stderr.write(`${s}\n`);
const cfg = loadConfig();

const dir = sharedFeedsDir();
const bodies: Buffer[] = dir
  ? readCheck(dir)
      .filter((c) => !c.malformed && (c.items ?? 0) > 0 && c.bytes < 400_000)
      .map((c) => readFileSync(join(dir, c.file)))
  : readdirSync('processors/poller/fixtures').map((f) => readFileSync(join('processors/poller/fixtures', f)));
log(`${bodies.length} distinct feed bodies (${dir ? 'shared real feeds' : 'own fixtures'}), ${N} feeds`);

const kafka = createKafka(cfg, { clientId: 'bench-poller' });
const admin = kafka.admin();
await admin.connect();
const rows: Record<string, unknown>[] = [];
for (const concurrency of concurrencies) {
  const id = `bench_poller_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const prefix = `${id}-`;
  const topic = `${prefix}raw-headlines`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
  const adminPg = new pg.Client({ connectionString: cfg.postgres.url });
  await adminPg.connect();
  await adminPg.query(`CREATE SCHEMA ${id}`);
  const pool = new pg.Pool({
    connectionString: cfg.postgres.url,
    max: concurrency + 4,
    options: `-c search_path=${id}`,
  });
  await migrate(pool);
  const server = await new FeedServer().start();
  const store = new FeedStore(pool);
  let now = Date.UTC(2026, 0, 1);
  for (let i = 0; i < N; i++) {
    const url = server.route(`/f/${i}.xml`, { kind: 'feed', body: bodies[i % bodies.length]!, etag: true });
    await store.add({ url, schedule: parseSchedule('10m'), source: `bench-${i}` }, now);
  }
  const sink = new KafkaRawSink(kafka, { prefix, registryUrl: cfg.registry.url, autoRegister: true });
  const poller = new Poller({ store, pool, sink, concurrency, clock: () => now });
  const round = async (name: string) => {
    const t0 = performance.now();
    const reports = await poller.drain();
    const s = (performance.now() - t0) / 1000;
    const items = reports.reduce((n, r) => n + r.items, 0);
    const produced = reports.reduce((n, r) => n + r.produced, 0);
    const row = {
      concurrency,
      round: name,
      polls: reports.length,
      seconds: Number(s.toFixed(2)),
      'feeds/s': Math.round(reports.length / s),
      'items parsed/s': Math.round(items / s),
      'items produced/s': Math.round(produced / s),
      errors: reports.filter((r) => r.outcome === 'error').length,
    };
    log(JSON.stringify(row));
    rows.push(row);
    now += 600_000;
  };
  await round('1: all new');
  await round('2: 304 (ETag)');
  for (let i = 0; i < N; i++) server.route(`/f/${i}.xml`, { kind: 'feed', body: bodies[i % bodies.length]! });
  await pool.query('UPDATE feeds SET etag = NULL, last_modified = NULL');
  await round('3: unchanged, no ETag');
  await sink.close();
  await server.close();
  await pool.end();
  await adminPg.query(`DROP SCHEMA ${id} CASCADE`);
  await adminPg.end();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await fetch(`${cfg.registry.url}/subjects/${encodeURIComponent(`${topic}-value`)}`, { method: 'DELETE' }).catch(
    () => undefined,
  );
}
await admin.disconnect();
if (args.includes('--json')) console.log(JSON.stringify(rows, null, 1));
else console.table(rows);
process.exit(0);
