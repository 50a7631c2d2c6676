// Embedded vector index: recall@10 against exact brute-force search, query latency p50/p99,
// upsert rate, build time, memory, disk — for each candidate embedded backend, in one run:
//   exact     brute force over every vector: usearch's native SIMD exactSearch (the baseline the ratios use,
//             and the ground truth, cross-checked against a plain JS loop), and the JS loop itself
//   usearch   EmbeddedIndex with the usearch engine (the default; the product path: WAL + fsync per batch)
//   hnswlib   EmbeddedIndex with the hnswlib-node engine (same path)
//   lancedb   @lancedb/lancedb table + IVF-HNSW-SQ index (its own persistence)
// The default run (usearch only) takes about 2 minutes of CPU; the full comparison about 4.
// Data: seeded, clustered (Zipf-sized clusters on the unit sphere), 384 dims, cosine.
//   npx tsx bench/index.ts [--n 100000] [--dims 384] [--queries 100] [--backends usearch (default) | usearch,hnswlib,lancedb]
//                          [--m 16] [--ef-add 64] [--ef 64,128,256 (query-time sweep)] [--batch 500] [--json]
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { EmbeddedIndex } from '../processors/index/src/embedded.ts';
import type { EngineKind } from '../processors/index/src/engines.ts';
import { clusteredVectors, exactTopK } from '../processors/index/src/synthetic.ts';
import type { HeadlinePayload } from '../processors/index/src/types.ts';
import { LanceCandidate } from './lance.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    dims: { type: 'string', default: '384' },
    queries: { type: 'string', default: '100' },
    backends: { type: 'string', default: 'usearch' },
    m: { type: 'string', default: '16' },
    'ef-add': { type: 'string', default: '64' },
    ef: { type: 'string', default: '64,128,256' },
    batch: { type: 'string', default: '500' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.n);
const DIMS = Number(values.dims);
const Q = Number(values.queries);
const M = Number(values.m);
const EF_ADD = Number(values['ef-add']);
const EFS = values.ef.split(',').map(Number);
const EF = EFS[0]!;
const BATCH = Number(values.batch);
const K = 10;
const backends = values.backends.split(',').filter(Boolean);
const log = (s: string) => process.stderr.write(`${s}\n`);
const cpuS = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const rssMb = () => process.memoryUsage().rss / 2 ** 20;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
function du(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((a, f) => a + du(join(path, f)), 0);
}

interface Row {
  backend: string;
  recall: number;
  p50: number;
  p99: number;
  /** CPU time of this process per query (robust to a shared machine; LanceDB's Rust threads count too) */
  cpuMs: number | null;
  upsertsPerS: number | null;
  buildS: number | null;
  buildCpuS: number | null;
  memMb: number | null;
  diskMb: number | null;
  filteredRecall: number | null;
  filteredP50: number | null;
}

const categories = ['world', 'business', 'sport', 'tech', 'science', 'health', 'arts', 'travel'];
// a selective filter: ~1% of the points (category × one of 12 sources)
const payloadOf = (i: number, cluster: number): HeadlinePayload => ({
  title: `synthetic headline ${i}`,
  url: `https://bench.example/${i}`,
  source: `source-${i % 12}`,
  category: categories[cluster % categories.length]!,
  story_id: `story-${cluster}-${Math.floor(i / 50)}`,
  published_at: Date.UTC(2025, 0, 1) + i * 1_000,
});
const filter = { category: 'sport', source: 'source-5' };

log(`data: ${N} × ${DIMS} clustered vectors, ${Q} queries, k=${K}`);
let t0 = performance.now();
const data = clusteredVectors({ n: N, dims: DIMS, clusters: 300, spread: 1.0, seed: 20251121 });
const queries = data.sample(Q, 424242);
const payloads = Array.from({ length: N }, (_, i) => payloadOf(i, data.cluster[i]!));
log(`  generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const q = (i: number) => queries.subarray(i * DIMS, (i + 1) * DIMS);
const filteredRows = payloads.flatMap((p, i) =>
  p.category === filter.category && p.source === filter.source ? [i] : [],
);

// exact search: ground truth and the latency baselines
const usearch = createRequire(import.meta.url)('usearch') as {
  exactSearch(
    data: Float32Array,
    queries: Float32Array,
    dims: number,
    k: number,
    metric: string,
    threads?: number,
  ): { keys: BigUint64Array };
};
t0 = performance.now();
const truth: Set<number>[] = [];
const exactLat: number[] = [];
const ce = cpuS();
for (let i = 0; i < Q; i++) {
  const s = performance.now();
  // a copy: exactSearch reads a subarray's whole underlying buffer (it ignores byteOffset)
  const m = usearch.exactSearch(data.vectors, q(i).slice(), DIMS, K, 'ip', 1);
  exactLat.push(performance.now() - s);
  truth.push(new Set(Array.from(m.keys, Number)));
}
const exactCpuMs = ((cpuS() - ce) * 1000) / Q;
log(`  native exact ground truth in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
// the JS loop on a few queries: its latency, and a cross-check of the native ground truth
const jsQ = Math.min(Q, 10);
const jsLat: number[] = [];
let agree = 0;
const cj = cpuS();
for (let i = 0; i < jsQ; i++) {
  const s = performance.now();
  const rowsJs = exactTopK(data.vectors, DIMS, q(i), K).rows;
  jsLat.push(performance.now() - s);
  agree += rowsJs.filter((r) => truth[i]!.has(r)).length;
}
const jsCpuMs = ((cpuS() - cj) * 1000) / jsQ;
if (agree / (jsQ * K) < 0.99) throw new Error(`native exact search disagrees with the JS loop (${agree}/${jsQ * K})`);
const truthFiltered = Array.from(
  { length: Q },
  (_, i) => new Set(exactTopK(data.vectors, DIMS, q(i), K, filteredRows).rows),
);
log(`  cross-checked (${agree}/${jsQ * K}); filter matches ${filteredRows.length} points`);
const rows: Row[] = [
  {
    backend: 'exact (usearch SIMD scan)',
    recall: 1,
    p50: pct(exactLat, 50),
    p99: pct(exactLat, 99),
    cpuMs: exactCpuMs,
    upsertsPerS: null,
    buildS: null,
    buildCpuS: null,
    memMb: (N * DIMS * 4) / 2 ** 20,
    diskMb: null,
    filteredRecall: 1,
    filteredP50: null,
  },
  {
    backend: `exact (JS loop, ${jsQ} q)`,
    recall: 1,
    p50: pct(jsLat, 50),
    p99: pct(jsLat, 99),
    cpuMs: jsCpuMs,
    upsertsPerS: null,
    buildS: null,
    buildCpuS: null,
    memMb: (N * DIMS * 4) / 2 ** 20,
    diskMb: null,
    filteredRecall: null,
    filteredP50: null,
  },
];

async function benchEmbedded(engine: EngineKind): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), `bench-index-${engine}-`));
  global.gc?.();
  const rss0 = rssMb();
  const idx = new EmbeddedIndex({
    dir,
    engine,
    params: { connectivity: M, expansionAdd: EF_ADD, expansionSearch: EF },
  });
  await idx.ensureGeneration(1, DIMS, 'cosine');
  const c0 = cpuS();
  const s0 = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    const pts = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++)
      pts.push({ itemId: `item-${j}`, vector: data.vectors.subarray(j * DIMS, (j + 1) * DIMS), payload: payloads[j]! });
    await idx.upsert(1, pts);
    if (i % (BATCH * 40) === 0) log(`  ${engine}: ${i} upserted`);
  }
  const buildS = (performance.now() - s0) / 1000;
  const buildCpuS = cpuS() - c0;
  idx.snapshot();
  const memMb = rssMb() - rss0;
  const diskMb = du(dir) / 2 ** 20;
  const sweep: {
    ef: number;
    recall: number;
    p50: number;
    p99: number;
    cpuMs: number;
    filteredRecall: number;
    filteredP50: number;
  }[] = [];
  for (const ef of EFS) {
    const lat: number[] = [];
    let hit = 0;
    const c1 = cpuS();
    for (let i = 0; i < Q; i++) {
      const s = performance.now();
      const hits = await idx.search(1, q(i), { limit: K, ef });
      lat.push(performance.now() - s);
      hit += hits.filter((h) => truth[i]!.has(Number(h.itemId.slice(5)))).length;
    }
    const cpuMs = ((cpuS() - c1) * 1000) / Q;
    const flat: number[] = [];
    let fhit = 0;
    let fall = 0;
    for (let i = 0; i < Q; i++) {
      const s = performance.now();
      const hits = await idx.search(1, q(i), { limit: K, filter, ef });
      flat.push(performance.now() - s);
      fhit += hits.filter((h) => truthFiltered[i]!.has(Number(h.itemId.slice(5)))).length;
      fall += truthFiltered[i]!.size;
    }
    sweep.push({
      ef,
      recall: hit / (Q * K),
      p50: pct(lat, 50),
      p99: pct(lat, 99),
      cpuMs,
      filteredRecall: fall ? fhit / fall : 1,
      filteredP50: pct(flat, 50),
    });
    log(`  ${engine} ef=${ef}: recall@10 ${(hit / (Q * K)).toFixed(3)}, p50 ${pct(lat, 50).toFixed(2)} ms`);
  }
  // re-delivery of an already indexed batch (the at-least-once case): no graph work
  const r0 = performance.now();
  const again = Array.from({ length: BATCH }, (_, j) => ({
    itemId: `item-${j}`,
    vector: data.vectors.subarray(j * DIMS, (j + 1) * DIMS),
    payload: payloads[j]!,
  }));
  await idx.upsert(1, again);
  log(`  ${engine}: re-delivered batch of ${BATCH} in ${(performance.now() - r0).toFixed(1)} ms`);
  if ((await idx.count(1)) !== N) throw new Error(`${engine}: count ${await idx.count(1)} after re-delivery`);
  await idx.close();
  rmSync(dir, { recursive: true, force: true });
  return sweep.map((w) => ({
    backend: `embedded/${engine} ef=${w.ef}`,
    recall: w.recall,
    p50: w.p50,
    p99: w.p99,
    cpuMs: w.cpuMs,
    upsertsPerS: N / buildS,
    buildS,
    buildCpuS,
    memMb,
    diskMb,
    filteredRecall: w.filteredRecall,
    filteredP50: w.filteredP50,
  }));
}

async function benchLance(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-index-lance-'));
  global.gc?.();
  const rss0 = rssMb();
  const db = await LanceCandidate.open(dir, DIMS);
  const c0 = cpuS();
  const s0 = performance.now();
  // bulk add in large batches (LanceDB writes one fragment per call), then build the index
  for (let i = 0; i < N; i += 20_000) {
    const chunk = [];
    for (let j = i; j < Math.min(N, i + 20_000); j++)
      chunk.push({
        id: String(j),
        category: payloads[j]!.category,
        vector: data.vectors.subarray(j * DIMS, (j + 1) * DIMS),
      });
    await db.add(chunk);
  }
  await db.buildIndex(M, EF_ADD);
  const buildS = (performance.now() - s0) / 1000;
  const buildCpuS = cpuS() - c0; // process.cpuUsage is getrusage(RUSAGE_SELF): LanceDB's Rust threads included
  // upsert rate on the indexed table: merge-insert batches of BATCH (new ids)
  const u0 = performance.now();
  const upserts = 5;
  for (let b = 0; b < upserts; b++) {
    const chunk = [];
    for (let j = 0; j < BATCH; j++) {
      const src = (b * BATCH + j) % N;
      chunk.push({ id: `new-${b}-${j}`, category: 'new', vector: data.vectors.subarray(src * DIMS, (src + 1) * DIMS) });
    }
    await db.upsert(chunk);
  }
  const upsertsPerS = (upserts * BATCH) / ((performance.now() - u0) / 1000);
  const memMb = rssMb() - rss0;
  const diskMb = du(dir) / 2 ** 20;
  const out: Row[] = [];
  for (const ef of EFS) {
    const lat: number[] = [];
    let hit = 0;
    const cl = cpuS();
    for (let i = 0; i < Q; i++) {
      const s = performance.now();
      const hits = await db.search(q(i), K, ef, "category != 'new'");
      lat.push(performance.now() - s);
      hit += hits.filter((h) => truth[i]!.has(Number(h.id))).length;
    }
    log(`  lancedb ef=${ef}: recall@10 ${(hit / (Q * K)).toFixed(3)}, p50 ${pct(lat, 50).toFixed(2)} ms`);
    out.push({
      backend: `lancedb hnsw-sq ef=${ef}`,
      recall: hit / (Q * K),
      p50: pct(lat, 50),
      p99: pct(lat, 99),
      cpuMs: ((cpuS() - cl) * 1000) / Q,
      upsertsPerS,
      buildS,
      buildCpuS,
      memMb,
      diskMb,
      filteredRecall: null,
      filteredP50: null,
    });
  }
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return out;
}

for (const b of backends) {
  log(`${b}…`);
  const r = b === 'lancedb' ? await benchLance() : await benchEmbedded(b as EngineKind);
  rows.push(...r);
  log(`  build ${r[0]!.buildS?.toFixed(1)} s`);
}

if (values.json) {
  console.log(JSON.stringify({ n: N, dims: DIMS, queries: Q, m: M, efAdd: EF_ADD, efs: EFS, rows }, null, 2));
} else {
  const f = (x: number | null, d = 1) => (x === null ? '—' : x.toFixed(d));
  const base = rows[0]!;
  const ratio = (b: number, x: number) =>
    x === b ? '1×' : x < b ? `${(b / x).toFixed(1)}× faster` : `${(x / b).toFixed(1)}× slower`;
  console.log(
    `\nN=${N} dims=${DIMS} queries=${Q} k=${K} M=${M} efConstruction=${EF_ADD} batch=${BATCH}; filter ${JSON.stringify(filter)} matches ${filteredRows.length}`,
  );
  const header = [
    'backend',
    'recall@10',
    'p50 ms',
    'p99 ms',
    'p50 vs exact scan',
    'p99 vs exact scan',
    'CPU ms/q',
    'upserts/s',
    'build s',
    'build CPU s',
    'mem MB',
    'disk MB',
    'filtered recall',
    'filtered p50 ms',
  ];
  const table = rows.map((r) => [
    r.backend,
    r.recall.toFixed(3),
    f(r.p50, 2),
    f(r.p99, 2),
    ratio(base.p50, r.p50),
    ratio(base.p99, r.p99),
    f(r.cpuMs, 3),
    f(r.upsertsPerS, 0),
    f(r.buildS),
    f(r.buildCpuS),
    r.memMb !== null && r.memMb < 0 ? 'n/a' : f(r.memMb, 0),
    f(r.diskMb, 0),
    r.filteredRecall === null ? '—' : r.filteredRecall.toFixed(3),
    f(r.filteredP50, 2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of table) console.log(line(r));
  console.log(
    '\nCPU ms/q: process CPU time per query (all threads; steadier than wall time on a shared machine). mem MB: RSS growth while building (exact: the raw vectors). build CPU s: every thread of this process (usearch inserts on 2 threads, LanceDB on its Rust pool). lancedb upserts/s: merge-insert batches into the indexed table.',
  );
}
