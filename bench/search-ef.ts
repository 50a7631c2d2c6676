// Recall@10 against exact search, and CPU per query, for the graph's search ef on the corpus of
// bench/search.ts (issue 14: the API's ef chosen by this table).
//
// The index is the one bench/search.ts built and kept (--dir): 100k seeded clustered 384-dim
// vectors in generation 1. Queries: its stub query vectors (same distribution, not in the corpus).
// Ground truth: an exact scan (every stored vector, normalised as stored, dot product) of the same
// collection, kept in <dir>/exact-top10-<queries>.json so a second run skips it. Each ef opens the
// index afresh as the API does (read-only, EmbeddedIndex searchEf), warms it with 50 searches, then
// times --queries searches one after the other (wall ms per search, and the process's CPU ms).
//   npx tsx bench/search-ef.ts --dir DIR [--efs 16,24,32,48,64,96,128,256] [--queries 500] [--json]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { clusteredVectors, EmbeddedIndex } from '@feedlog/index';
import { pct } from './search-load.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    efs: { type: 'string', default: '16,24,32,48,64,96,128,256' },
    queries: { type: 'string', default: '500' },
    json: { type: 'boolean', default: false },
  },
});
if (!values.dir) throw new Error('--dir: the corpus directory bench/search.ts kept (--dir)');
const dir = values.dir;
const EFS = values.efs.split(',').map(Number);
const Q = Number(values.queries);
const K = 10;
// the corpus and query draws of bench/search.ts
const DIMS = 384;
const CLUSTERS = 300;
const SEED = 20251121;
const QUERY_SEED = 7_777;
const log = (s: string) => process.stderr.write(`${s}\n`);

const flat = clusteredVectors({ n: 0, dims: DIMS, clusters: CLUSTERS, spread: 1.0, seed: SEED }).sample(Q, QUERY_SEED);
const queries = Array.from({ length: Q }, (_, i) => flat.slice(i * DIMS, (i + 1) * DIMS));

function normalised(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  const s = 1 / Math.sqrt(n || 1);
  return v.map((x) => x * s);
}

/** exact top-K item ids per query (cosine: the stored vectors are normalised) */
function exactTopK(): string[][] {
  const file = join(dir, `exact-top${K}-${Q}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as string[][];
  const t0 = performance.now();
  const index = new EmbeddedIndex({ dir, readOnly: true });
  const entries = [...index.collection(1).entries()];
  const ids = entries.map(([id]) => id);
  const n = entries.length;
  const mat = new Float32Array(n * DIMS);
  entries.forEach(([, v], i) => {
    mat.set(v, i * DIMS);
  });
  const out: string[][] = [];
  const scores = new Float32Array(n);
  for (const raw of queries) {
    const q = normalised(raw);
    for (let r = 0; r < n; r++) {
      let s = 0;
      const o = r * DIMS;
      for (let d = 0; d < DIMS; d++) s += (mat[o + d] as number) * (q[d] as number);
      scores[r] = s;
    }
    const top: number[] = [];
    for (let r = 0; r < n; r++) {
      if (top.length < K || (scores[r] as number) > (scores[top[top.length - 1] as number] as number)) {
        top.push(r);
        top.sort((a, b) => (scores[b] as number) - (scores[a] as number));
        if (top.length > K) top.pop();
      }
    }
    out.push(top.map((r) => ids[r] as string));
  }
  void index.close();
  writeFileSync(file, JSON.stringify(out));
  log(`exact top-${K} of ${Q} queries over ${n} vectors in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return out;
}

const truth = exactTopK();
const load0 = loadavg()[0] as number;
interface EfRow {
  ef: number;
  recall: number;
  p50: number;
  p99: number;
  cpuMsPerQuery: number;
}
const rows: EfRow[] = [];
for (const ef of EFS) {
  const index = new EmbeddedIndex({ dir, readOnly: true, searchEf: ef });
  for (let i = 0; i < 50; i++) await index.search('headlines', queries[i % Q] as Float32Array, { limit: K });
  const lat: number[] = [];
  let hit = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < Q; i++) {
    const t = performance.now();
    const hits = await index.search('headlines', queries[i] as Float32Array, { limit: K });
    lat.push(performance.now() - t);
    const want = new Set(truth[i]);
    for (const h of hits) if (want.has(h.itemId)) hit++;
  }
  const cpu = process.cpuUsage(cpu0);
  await index.close();
  const row = {
    ef,
    recall: hit / (Q * K),
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    cpuMsPerQuery: (cpu.user + cpu.system) / 1000 / Q,
  };
  rows.push(row);
  log(
    `ef=${ef}: recall@${K} ${row.recall.toFixed(3)}, p50 ${row.p50.toFixed(3)} ms, CPU ${row.cpuMsPerQuery.toFixed(3)} ms/query`,
  );
}

if (values.json) console.log(JSON.stringify({ dir, queries: Q, k: K, load: [load0, loadavg()[0]], rows }, null, 2));
else {
  console.log(
    `\nEmbeddedIndex.search, 100k × ${DIMS} (bench/search.ts corpus), ${Q} queries, k=${K}; load ${load0.toFixed(1)} → ${(loadavg()[0] as number).toFixed(1)}\n`,
  );
  console.log('| ef | recall@10 vs exact | p50 ms | p99 ms | CPU ms/query |');
  console.log('|--:|--:|--:|--:|--:|');
  for (const r of rows)
    console.log(
      `| ${r.ef} | ${r.recall.toFixed(3)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.cpuMsPerQuery.toFixed(3)} |`,
    );
}
