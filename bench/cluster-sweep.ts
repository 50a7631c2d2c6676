/**
 * What was tried for the story clusterer, on UCI stories-dev replayed in timestamp order:
 * representation (idf mode, bigrams), join thresholds, ageing window, category gate, and the
 * MinHash-LSH baseline's own settings. Quality only (one deterministic pass per setting).
 *
 *   npx tsx bench/cluster-sweep.ts [--data ../shared/data/uci/stories-dev.csv]
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type Clusterer,
  type ClusterOptions,
  ClusterState,
  DEFAULT_OPTIONS,
  evaluateStream,
  loadUciCsv,
  MinHashClusterer,
} from '@feedlog/cluster';

const argi = process.argv.indexOf('--data');
const data =
  argi > 0 ? process.argv[argi + 1]! : fileURLToPath(new URL('../../shared/data/uci/stories-dev.csv', import.meta.url));
if (!existsSync(data)) {
  console.log(`SKIP: ${data} not found`);
  process.exit(0);
}
const rows = loadUciCsv(data);
const H = 3600_000;
const f = (x: number) => x.toFixed(3);
const line = (label: string, make: () => Clusterer) => {
  const r = evaluateStream(label, make, rows);
  console.log(
    `${label.padEnd(44)} ${f(r.bcubed.precision)} ${f(r.bcubed.recall)} ${f(r.bcubed.f1)}  ${f(r.pairwise.f1)} ${f(r.ari)}  ${r.predictedClusters}`,
  );
};
const run = (o: Partial<ClusterOptions>) => () => new ClusterState(o);
const header = (t: string) => console.log(`\n## ${t}\n${'setting'.padEnd(44)} B3-P  B3-R  B3-F1  pw-F1 ARI    stories`);

console.log(`defaults: ${JSON.stringify(DEFAULT_OPTIONS)}`);
header('representation (default thresholds)');
for (const idf of ['story', 'item', 'none'] as const)
  for (const bigrams of [false, true]) line(`idf=${idf} bigrams=${bigrams}`, run({ idf, bigrams }));

header('join thresholds: large-story limit x one-item-story bar');
for (const threshold of [0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3])
  for (const seedThreshold of new Set([threshold, 0.2, 0.3, 0.4])) {
    if (seedThreshold < threshold) continue;
    line(`threshold=${threshold} seed=${seedThreshold}`, run({ threshold, seedThreshold }));
  }

header('ageing window (stories here are bursts of seconds: short windows profit from that artefact)');
for (const h of [1, 3, 6, 12, 24, 48])
  line(`window=${h}h`, run({ windowMs: h * H, maxStoryAgeMs: Math.max(h, 168) * H }));

header('category gate (gold CATEGORY standing in for the classify stage)');
for (const useCategory of [false, true]) line(`useCategory=${useCategory}`, run({ useCategory }));

header('baseline: MinHash-LSH near-duplicate single link (unigram+bigram shingles)');
for (const threshold of [0.2, 0.3, 0.5])
  for (const [bands, r] of [
    [16, 4],
    [32, 2],
  ] as const)
    line(`minhash threshold=${threshold} ${bands}x${r}`, () => new MinHashClusterer({ threshold, bands, rows: r }));

// Robustness: in this sample every story is a burst of seconds and stories never overlap. Shuffle
// the arrival order (seeded) and hand the original timestamps out again in sorted order, so all
// stories interleave over the 36 h; a method that leaned on "the current burst" would collapse.
{
  let x = 12345;
  const rand = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  };
  const shuffled = [...rows];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const times = rows.map((r) => r.publishedAt);
  const interleaved = shuffled.map((r, i) => ({ ...r, publishedAt: times[i]! }));
  header('interleaved stream (shuffled arrival order, stories overlap in time)');
  for (const [label, make] of [
    ['tfidf-centroid (defaults)', run({})],
    ['tfidf-centroid window=48h', run({ windowMs: 48 * H })],
    ['minhash baseline', () => new MinHashClusterer()],
  ] as const) {
    const r = evaluateStream(label, make, interleaved);
    console.log(
      `${label.padEnd(44)} ${f(r.bcubed.precision)} ${f(r.bcubed.recall)} ${f(r.bcubed.f1)}  ${f(r.pairwise.f1)} ${f(r.ari)}  ${r.predictedClusters}`,
    );
  }
}
