// Story clustering quality by cross-validation grouped by story (issue 16):
//   npx tsx bench/cluster-quality.ts [--quick]
// UCI stories-dev in event-time order; titles embedded once through the EmbeddingClient and kept
// under .feedlog/cache (bench/lib/embed-file.ts). Each variant's thresholds (and weight) are chosen
// per fold on the other folds' stories only; the figures are every row scored by a config chosen
// without it. Prints the variant table, the chosen configs and a sensitivity curve.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type CvConfig, crossValidate, foldsByStory, grid, runStream } from '../processors/cluster/src/cv.ts';
import { loadUciCsv } from '../processors/cluster/src/dataset.ts';
import { evaluateClustering } from '../processors/cluster/src/metrics.ts';
import { embedAll } from './lib/embed-file.ts';

const root = process.env.FEEDLOG_SHARED_DATA ?? fileURLToPath(new URL('../../shared/data', import.meta.url));
const UCI = `${root}/uci/stories-dev.csv`;
if (!existsSync(UCI)) {
  console.log(`SKIPPED: ${UCI} not found`);
  process.exit(0);
}
const quick = process.argv.includes('--quick');
const rows0 = loadUciCsv(UCI);
const emb = await embedAll(rows0.map((r) => r.title));
const rows = rows0.map((r, i) => ({ ...r, vector: emb.vectors[i]! }));
const folds = foldsByStory(rows, 5);

const range = (a: number, b: number, step: number) => {
  const out: number[] = [];
  for (let x = a; x <= b + 1e-9; x += step) out.push(Math.round(x * 1000) / 1000);
  return out;
};
const withSeed = (cs: CvConfig[], deltas: number[]) =>
  cs.flatMap((c) =>
    deltas.map((d) => ({ ...c, seedThreshold: Math.min(1, Math.round(((c.threshold ?? 0) + d) * 1000) / 1000) })),
  );

const variants: { name: string; configs: CvConfig[] }[] = [
  {
    name: 'lexical TF-IDF only',
    configs: withSeed(
      grid({ semanticWeight: [0], threshold: range(0.04, 0.2, quick ? 0.04 : 0.02) }),
      [0.05, 0.1, 0.15],
    ),
  },
  {
    name: 'semantic only (MiniLM-L6 cosine)',
    configs: withSeed(grid({ semanticWeight: [1], threshold: range(0.3, 0.6, quick ? 0.1 : 0.05) }), [0.05, 0.1]),
  },
  {
    name: 'combined (weight by CV)',
    configs: withSeed(
      grid({ semanticWeight: quick ? [0.7] : [0.6, 0.75, 0.9], threshold: range(0.15, 0.45, quick ? 0.1 : 0.05) }),
      [0.05, 0.1],
    ),
  },
  {
    name: 'combined + time decay 24 h (w 0.75)',
    configs: withSeed(
      grid({
        semanticWeight: [0.75],
        decayHours: [24],
        threshold: range(0.15, 0.45, quick ? 0.1 : 0.05),
      }),
      [0.05, 0.1],
    ),
  },
  {
    name: 'combined + decay 24 h + entity overlap (w 0.75, entity weight by CV)',
    configs: withSeed(
      grid({
        semanticWeight: [0.75],
        decayHours: [24],
        entityWeight: [0.1, 0.2],
        threshold: range(0.15, 0.45, quick ? 0.1 : 0.05),
      }),
      [0.05, 0.1],
    ),
  },
];
// --only <substring>: run the variants whose name contains it (the sensitivity table needs the combined one)
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
if (only) variants.splice(0, variants.length, ...variants.filter((v) => v.name.includes(only)));

const f = (x: number) => x.toFixed(3);
const mode = <T>(xs: T[]): T => {
  const n = (x: T) => xs.filter((y) => y === x).length;
  return [...xs].sort((a, b) => n(b) - n(a))[0]!;
};
const desc = (c: CvConfig) =>
  `w ${c.semanticWeight ?? 0}, t ${c.threshold}, seed ${c.seedThreshold}${c.decayHours ? `, decay ${c.decayHours} h` : ''}${c.entityWeight ? `, entity ${c.entityWeight}` : ''}`;
console.log(
  `UCI stories-dev: ${rows.length} rows, ${new Set(rows.map((r) => r.story)).size} stories, 5 folds by story`,
);
console.log(`embeddings: ${emb.sent} sent to the embedder this run, ${(emb.seconds).toFixed(1)} s\n`);
console.log(
  '| variant | configs | B³ P | B³ R | B³ F1 | pairwise F1 | ARI (all dev, modal config) | per-fold test B³ F1 | chosen (fold 0) |',
);
console.log('|---|--:|--:|--:|--:|--:|--:|---|---|');
const results = [];
for (const v of variants) {
  const t0 = performance.now();
  const r = crossValidate(rows, v.configs, folds, (d, n) => {
    if (d % 20 === 0) process.stderr.write(`  ${v.name}: ${d}/${n}\n`);
  });
  results.push({ v, r });
  const p = r.pooled;
  const modal = mode(r.folds.map((c) => JSON.stringify(c.config)));
  const ari = evaluateClustering(
    runStream(rows, JSON.parse(modal) as CvConfig),
    rows.map((x) => x.story),
  ).ari;
  console.log(
    `| ${v.name} | ${v.configs.length} | ${f(p.bcubed.precision)} | ${f(p.bcubed.recall)} | ${f(p.bcubed.f1)} | ${f(p.pairwise.f1)} | ${f(ari)} | ${r.folds.map((c) => f(c.testF1)).join(' ')} | ${desc(r.folds[0]!.config)} |`,
  );
  process.stderr.write(`  ${v.name}: ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}
console.log('\nchosen per fold:');
for (const { v, r } of results)
  console.log(
    `- ${v.name}: ${r.folds.map((c) => `[${desc(c.config)}] train ${f(c.trainF1)} → test ${f(c.testF1)}`).join('; ')}`,
  );

if (results.length < 3) process.exit(0);
// Sensitivity of the combined method: all of dev, the most-chosen weight and seed offset, threshold swept.
const comb = results[2]!.r.folds.map((c) => c.config);
const w = mode(comb.map((c) => c.semanticWeight ?? 0));
const delta = mode(comb.map((c) => Math.round(((c.seedThreshold ?? 0) - (c.threshold ?? 0)) * 1000) / 1000));
console.log(`\nsensitivity (all dev rows, weight ${w}, seed = threshold + ${delta}):`);
console.log('| threshold | B³ P | B³ R | B³ F1 | pairwise F1 | ARI | stories |');
console.log('|--:|--:|--:|--:|--:|--:|--:|');
for (const t of range(0.1, 0.5, 0.05)) {
  const m = evaluateClustering(
    runStream(rows, { semanticWeight: w, threshold: t, seedThreshold: Math.min(1, t + delta) }),
    rows.map((r) => r.story),
  );
  console.log(
    `| ${t} | ${f(m.bcubed.precision)} | ${f(m.bcubed.recall)} | ${f(m.bcubed.f1)} | ${f(m.pairwise.f1)} | ${f(m.ari)} | ${m.predictedClusters} |`,
  );
}
