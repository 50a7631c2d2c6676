/**
 * Story clustering benchmark: quality (pairwise / B-cubed / ARI against STORY) and records/s on
 * the UCI News Aggregator sample replayed in timestamp order, for the chosen method, two
 * ablations and the MinHash-LSH baseline, in the same run.
 *
 *   npx tsx bench/cluster.ts [--data ../shared/data/uci/stories-dev.csv] [--runs 5]
 *
 * Throughput: median of `runs` timed passes after one warm-up pass, single thread, including
 * tokenisation and changelog serialisation (`takeChangelog` every 500 records, the stage's batch)
 * but not CSV parsing.
 */
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  type Clusterer,
  type ClusterOptions,
  ClusterState,
  type EvalReport,
  evaluateStream,
  type LabeledHeadline,
  loadUciCsv,
  MinHashClusterer,
} from '@feedlog/cluster';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const data = arg('--data') ?? fileURLToPath(new URL('../../shared/data/uci/stories-dev.csv', import.meta.url));
const runs = Number(arg('--runs') ?? 5);
if (!existsSync(data)) {
  console.log(`SKIP bench/cluster: ${data} not found`);
  process.exit(0);
}
const rows = loadUciCsv(data);
const spanH = (rows.at(-1)!.publishedAt - rows[0]!.publishedAt) / 3600_000;
console.log(
  `data: ${data}: ${rows.length} headlines, ${new Set(rows.map((r) => r.story)).size} stories, ${spanH.toFixed(1)} h, timestamp order`,
);

/** a ClusterState that serialises its changelog every 500 records, as the stage does per batch */
const state = (o: Partial<ClusterOptions>) => (): Clusterer => {
  const st = new ClusterState(o);
  let n = 0;
  return {
    assign(r) {
      const a = st.assign(r);
      if (++n % 500 === 0) st.takeChangelog();
      return a;
    },
  };
};
const methods: [string, () => Clusterer, (r: LabeledHeadline) => LabeledHeadline][] = [
  ['tfidf-centroid (chosen)', state({}), (r) => r],
  ['  ablation: no idf', state({ idf: 'none' }), (r) => r],
  ['  ablation: item idf', state({ idf: 'item' }), (r) => r],
  ['  ablation: +bigrams', state({ bigrams: true }), (r) => r],
  ['  + category (gold CATEGORY as classifier stand-in)', state({ useCategory: true }), (r) => r],
  ['minhash-lsh (baseline)', () => new MinHashClusterer(), (r) => r],
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: (EvalReport & { medianRps: number; medianCpuRps: number })[] = [];
for (const [name, make] of methods) {
  const q = evaluateStream(name, make, rows); // warm-up + quality (deterministic)
  const rps: number[] = [];
  const cpuRps: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = evaluateStream(name, make, rows);
    rps.push(t.recordsPerSecond);
    cpuRps.push(t.recordsPerCpuSecond);
  }
  results.push({ ...q, medianRps: median(rps), medianCpuRps: median(cpuRps) });
}

// changelog volume of the chosen method, taken every `batch` records as the stage does per transaction
const volume = (batch: number) => {
  const cs = new ClusterState();
  let entries = 0;
  let bytes = 0;
  for (let i = 0; i < rows.length; i += batch) {
    for (const r of rows.slice(i, i + batch)) cs.assign(r);
    for (const e of cs.takeChangelog()) {
      entries++;
      bytes += e.key.length + (e.value?.length ?? 0);
    }
  }
  return { entries, bytes, stats: cs.stats() };
};
const vols = [1, 500, 2000].map((b) => [b, volume(b)] as const);

const f = (x: number) => x.toFixed(3);
const w = Math.max(...results.map((r) => r.method.length));
console.log(
  `${'method'.padEnd(w)}  stories  pw-P   pw-R   pw-F1  B3-P   B3-R   B3-F1  ARI    rec/s  rec/cpu-s  (medians of ${runs})`,
);
for (const r of results) {
  console.log(
    `${r.method.padEnd(w)}  ${String(r.predictedClusters).padStart(7)}  ${f(r.pairwise.precision)}  ${f(r.pairwise.recall)}  ${f(r.pairwise.f1)}  ${f(r.bcubed.precision)}  ${f(r.bcubed.recall)}  ${f(r.bcubed.f1)}  ${f(r.ari)}  ${String(Math.round(r.medianRps)).padStart(5)}  ${String(Math.round(r.medianCpuRps)).padStart(9)}`,
  );
}
const chosen = results[0]!;
const base = results.at(-1)!;
console.log(
  `ratio chosen/baseline: B3-F1 ${(chosen.bcubed.f1 / base.bcubed.f1).toFixed(2)}x, ARI ${(chosen.ari / base.ari).toFixed(2)}x, throughput ${(chosen.medianRps / base.medianRps).toFixed(2)}x (cpu ${(chosen.medianCpuRps / base.medianCpuRps).toFixed(2)}x)`,
);
for (const [b, v] of vols)
  console.log(
    `changelog (chosen), taken every ${b} records: ${(v.entries / rows.length).toFixed(2)} entries and ${Math.round(v.bytes / rows.length)} key+value bytes per record`,
  );
console.log(`live state at end: ${JSON.stringify(vols[0]![1].stats)}`);
console.log(
  `targets: B3-F1 >= 0.85 -> ${chosen.bcubed.f1 >= 0.85 ? 'met' : 'NOT met'} (${f(chosen.bcubed.f1)}); >= 10000 rec/s -> ${chosen.medianRps >= 10_000 ? 'met' : 'NOT met'} (${Math.round(chosen.medianRps)} wall, ${Math.round(chosen.medianCpuRps)} per cpu-second; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores)`,
);
