/**
 * Parameter sweep for the story clusterer on UCI (timestamp order): shows what was tried.
 * Usage: npx tsx bench/cluster-sweep.ts [--data file]
 */
import { existsSync } from 'node:fs';
import { type ClusterOptions, ClusterState, evaluateStream, loadUciCsv } from '@feedlog/cluster';

const argi = process.argv.indexOf('--data');
const data = argi > 0 ? process.argv[argi + 1]! : '../shared/data/uci/stories-dev.csv';
if (!existsSync(data)) {
  console.log(`SKIP: ${data} not found`);
  process.exit(0);
}
const rows = loadUciCsv(data);
const H = 3600_000;
const f = (x: number) => x.toFixed(3);
console.log('idf cov  bigr window thr  seed | bc-P  bc-R  bc-F1 | pw-F1 ARI   | clusters rec/s');
for (const idf of ['story'] as const)
  for (const minCoverage of [0, 0.2, 0.3, 0.4])
    for (const bigrams of [false])
      for (const windowMs of [24 * H])
        for (const threshold of [0.06, 0.08, 0.1, 0.12])
          for (const seedThreshold of [0.2, 0.25, 0.3]) {
            const o: Partial<ClusterOptions> = { idf, bigrams, windowMs, threshold, seedThreshold, minCoverage };
            const r = evaluateStream('x', () => new ClusterState(o), rows);
            console.log(
              `${idf.padEnd(5)} ${minCoverage.toFixed(1)} ${String(bigrams).padEnd(5)} ${String(windowMs / H).padEnd(6)} ${threshold.toFixed(2)} ${seedThreshold.toFixed(2)} | ${f(r.bcubed.precision)} ${f(r.bcubed.recall)} ${f(r.bcubed.f1)} | ${f(r.pairwise.f1)} ${f(r.ari)} | ${String(r.predictedClusters).padEnd(8)} ${Math.round(r.recordsPerSecond)}`,
            );
          }
