// The PostgreSQL embedding cache on its own (no embedder): what a batch costs to look up and to
// write, and what a row costs on disk — the figures its storage and its bound were chosen by.
// Writes N random 384-d float32 vectors in batches (as the embed stage writes misses), then reads
// them back in batches (hits) and reads N keys that are not there (misses); wall ms and this
// process's CPU ms per 1000 texts, and table + index bytes per row. A schema of its own, dropped.
//   npx tsx bench/embed-cache.ts [--records 20000] [--batch 128] [--dims 384] [--json]
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadConfig } from '@feedlog/common';
import { PgEmbeddingCache } from '@feedlog/embed';
import { migrate } from '@feedlog/migrations';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '128' },
    dims: { type: 'string', default: '384' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.records);
const BATCH = Number(values.batch);
const DIMS = Number(values.dims);
const MODEL = 'bench-model||native';
const url = loadConfig().postgres.url;
const schema = `bench_embedcache_${Date.now().toString(36)}`;

const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query(`CREATE SCHEMA "${schema}"`);
const pool = new pg.Pool({ connectionString: url, max: 4, options: `-c search_path=${schema}` });

/** wall and this process's CPU ms per 1000 texts of `fn` over all N texts in batches */
async function measure(fn: (from: number, to: number) => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i += BATCH) await fn(i, Math.min(N, i + BATCH));
  const c = process.cpuUsage(c0);
  const per = (ms: number) => Number(((ms / N) * 1000).toFixed(1));
  return { wall: per(performance.now() - t0), cpu: per((c.user + c.system) / 1000) };
}

try {
  await migrate(pool);
  const cache = new PgEmbeddingCache(pool, { maxRows: N * 2 });
  const text = (i: number) => `bench headline number ${i} with a few more words to look like a title`;
  const vector = () => Float32Array.from({ length: DIMS }, () => Math.random() - 0.5);
  const write = await measure(async (a, b) => {
    const entries = [];
    for (let i = a; i < b; i++)
      entries.push({ text: text(i), embedding: { vector: vector(), normalized: false, servedModel: 'm' } });
    await cache.putMany(MODEL, entries);
  });
  const keys = (a: number, b: number, f: (i: number) => string) => Array.from({ length: b - a }, (_, j) => f(a + j));
  let hits = 0;
  const read = await measure(async (a, b) => {
    hits += (await cache.getMany(MODEL, keys(a, b, text))).filter(Boolean).length;
  });
  const miss = await measure(async (a, b) => {
    hits += (
      await cache.getMany(
        MODEL,
        keys(a, b, (i) => `absent ${i}`),
      )
    ).filter(Boolean).length;
  });
  if (hits !== N) throw new Error(`expected ${N} hits, got ${hits}`);
  await pool.query('VACUUM ANALYZE embedding_cache');
  const size = await pool.query<{ bytes: string }>(`SELECT pg_total_relation_size('embedding_cache')::bigint AS bytes`);
  const bytesPerRow = Math.round(Number(size.rows[0]?.bytes) / N);
  const out = {
    records: N,
    batch: BATCH,
    dims: DIMS,
    msPer1000: { write, readHits: read, readMisses: miss },
    bytesPerRow,
    gbPerMillionRows: Number(((bytesPerRow * 1e6) / 1024 ** 3).toFixed(2)),
    loadAverage1m: Number(loadavg()[0]?.toFixed(1)),
  };
  if (values.json) console.log(JSON.stringify(out));
  else {
    console.log(`PostgreSQL embedding cache — ${N} texts, ${DIMS}-d float32, batches of ${BATCH}`);
    console.log(
      `  write (INSERT … unnest … ON CONFLICT DO NOTHING)  ${write.wall} ms wall, ${write.cpu} ms CPU per 1000`,
    );
    console.log(
      `  read, all hits (key = ANY($1))                    ${read.wall} ms wall, ${read.cpu} ms CPU per 1000`,
    );
    console.log(
      `  read, all misses                                  ${miss.wall} ms wall, ${miss.cpu} ms CPU per 1000`,
    );
    console.log(`  table + indexes: ${bytesPerRow} bytes per row (${out.gbPerMillionRows} GB per million rows)`);
    console.log(`  load average (1 min): ${out.loadAverage1m}`);
  }
} finally {
  await pool.end();
  await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
  await admin.end();
}
