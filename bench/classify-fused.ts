// Issue 16: the fused classifier (n-gram + embedding head + kNN, fusion chosen by inner 4-fold
// out-of-fold macro-F1 on the training rows only), scored by NESTED cross-validation: outer folds
// over the training part (AG: stratified 80 % of ag_news-dev, seed 42, as `feedlog train classify`;
// UCI: all of stories-dev, outer AND inner folds grouped by story), plus the AG hold-out scored once.
//   . /tmp/shared-env.sh; FEEDLOG_EMBED_CACHE_DIR=/tmp/classifier FEEDLOG_SHARED_DATA=/work/shared/data \
//     nice -n 10 npx tsx bench/classify-fused.ts [--data ag|uci] [--folds 5] [--model all-MiniLM-L6-v2-int8]
// --model: the embedding model (default EMBEDDING_MODEL, else all-MiniLM-L6-v2-int8), served at
// EMBEDDING_BASE_URL; e.g. bge-small-en-v1.5 from an embedder started with EMBEDDER_MODELS=bge-small-en-v1.5.
// --embed-only: fill the snapshot and stop (embedding and CV in separate, shorter holds of the CPU).
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  argmax,
  DEFAULT_CANDIDATES,
  evaluate,
  expectedCalibrationError,
  fuse,
  headProbabilities,
  kFolds,
  loadDataset,
  makeSplit,
  textOf,
  trainEmbeddingHead,
  trainFused,
} from '../processors/classify/src/index.ts';
import { embedAll } from './lib/embed-file.ts';

const root = process.env.FEEDLOG_SHARED_DATA ?? fileURLToPath(new URL('../../shared/data', import.meta.url));
const { values } = parseArgs({
  options: {
    data: { type: 'string', default: 'ag' },
    folds: { type: 'string', default: '5' },
    model: { type: 'string', default: process.env.EMBEDDING_MODEL ?? 'all-MiniLM-L6-v2-int8' },
    'embed-only': { type: 'boolean', default: false },
    // kNN neighbours (default 30, the product's DEFAULT_KNN.k); an experiment, the product does not choose k
    k: { type: 'string' },
  },
});
const MODEL = values.model;
const SEED = 42;
const isAg = values.data === 'ag';
const ds = loadDataset(isAg ? `${root}/ag_news/ag_news-dev.csv` : `${root}/uci/stories-dev.csv`);
const C = ds.labels.length;
const li = new Map(ds.labels.map((l, i) => [l, i]));
const y = ds.examples.map((e) => li.get(e.label)!);
const groups = isAg ? undefined : ds.examples.map((e, i) => e.group ?? `row:${i}`);
// `--model a+b` (an experiment, not something the stage can serve): each model's unit vectors
// concatenated and scaled by 1/sqrt(models), so the result is unit-length again
async function embedWith(texts: string[], what: string): Promise<Float32Array[]> {
  const parts: Float32Array[][] = [];
  for (const m of MODEL.split('+')) {
    const r = await embedAll(texts, m);
    if (r.sent > 0)
      console.log(`embedded ${r.sent} ${what} texts with ${m}: ${(r.sent / r.seconds).toFixed(1)} texts/s`);
    parts.push(r.vectors);
  }
  if (parts.length === 1) return parts[0]!;
  const s = 1 / Math.sqrt(parts.length);
  return texts.map((_, i) => {
    const v = new Float32Array(parts.reduce((n, p) => n + p[i]!.length, 0));
    let o = 0;
    for (const p of parts) {
      for (const x of p[i]!) v[o++] = x * s;
    }
    return v;
  });
}
const full = await embedWith(
  ds.examples.map((e) => textOf(e)),
  'title + description',
);
const title = isAg
  ? await embedWith(
      ds.examples.map((e) => textOf(e, false)),
      'title',
    )
  : full;
if (values['embed-only']) process.exit(0);
const candidates = isAg ? [DEFAULT_CANDIDATES[0]!] : DEFAULT_CANDIDATES;

type Row = { truth: number; p: Record<string, Float64Array> };
/** trains on `train`, returns every variant's distribution for each row of `test` */
function score(train: number[], test: number[], summary = true): Row[] {
  const r = trainFused(ds, {
    rows: train,
    vectors: full,
    embeddingModel: MODEL,
    ...(values.k ? { k: Number(values.k) } : {}),
    seed: SEED,
    candidates,
  });
  const m = r.model;
  const tv = test.map((i) => (summary ? full[i]! : title[i]!));
  const texts = test.map((i) => textOf(ds.examples[i]!, summary));
  const members = m.memberProbabilities(texts, tv);
  const headB = trainEmbeddingHead(
    train.map((i) => full[i]!),
    train.map((i) => y[i]!),
    C,
    { classWeights: balanced(train) },
  );
  process.stderr.write(`  fusion ${JSON.stringify(r.choice)} n-gram ${r.ngram.chosen.method}\n`);
  return test.map((i, j) => ({
    truth: y[i]!,
    p: {
      'n-gram (product)': members[j]![0]!,
      'embedding head (L-BFGS, standardised)': members[j]![1]!,
      'embedding head, class-balanced': headProbabilities(headB, tv[j]!),
      [`kNN k=${values.k ?? 30} (usearch exact)`]: members[j]![2]!,
      'fusion n-gram + kNN, equal weights': fuse([members[j]![0]!, members[j]![2]!], {
        weights: [0.5, 0.5],
        temperature: 1,
      }),
      'fused (weights + T by inner 4-fold OOF)': fuse(members[j]!, m.header.fusion),
    },
  }));
}
function balanced(rows: number[]): number[] {
  const n = new Array<number>(C).fill(0);
  for (const i of rows) n[y[i]!]!++;
  return n.map((v) => (v > 0 ? rows.length / (C * v) : 0));
}
function summarise(rows: Row[]) {
  const out: Record<string, { acc: number; f1: number; ece: number; confusion: number[][] }> = {};
  for (const k of Object.keys(rows[0]!.p)) {
    const pred = rows.map((r) => argmax(r.p[k]!));
    const ev = evaluate(
      rows.map((r) => r.truth),
      pred,
      ds.labels,
    );
    const ece = expectedCalibrationError(
      rows.map((r, j) => r.p[k]![pred[j]!]!),
      rows.map((r, j) => pred[j] === r.truth),
    );
    out[k] = { acc: ev.accuracy, f1: ev.macroF1, ece, confusion: ev.confusion };
  }
  return out;
}
const pct = (x: number) => (x * 100).toFixed(2);
const msd = (a: number[]) => {
  const m = a.reduce((s, v) => s + v, 0) / a.length;
  const sd = Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / Math.max(1, a.length - 1));
  return `${pct(m)} ± ${pct(sd)}`;
};

const split = isAg ? makeSplit(ds, 0.2, SEED, false) : { train: ds.examples.map((_, i) => i), test: [] as number[] };
const outer = kFolds(split.train, Number(values.folds), SEED + 1, groups, y);
const per: Record<string, { acc: number[]; f1: number[]; ece: number[] }> = {};
const pooled: Row[] = [];
const t0 = performance.now();
for (const [f, fold] of outer.entries()) {
  const rows = score(fold.train, fold.test);
  pooled.push(...rows);
  for (const [k, v] of Object.entries(summarise(rows))) {
    per[k] ??= { acc: [], f1: [], ece: [] };
    per[k].acc.push(v.acc);
    per[k].f1.push(v.f1);
    per[k].ece.push(v.ece);
  }
  process.stderr.write(`outer fold ${f + 1}/${outer.length} ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}
console.log(
  `${isAg ? 'AG News dev, training part' : 'UCI stories-dev'}: ${split.train.length} rows, nested ${outer.length}-fold CV${groups ? ' (outer and inner folds grouped by story)' : ''}`,
);
console.log('| variant | accuracy % | macro-F1 % (all classes) | ECE % | pooled acc / macro-F1 / ECE |');
console.log('|---|--:|--:|--:|--:|');
const pool = summarise(pooled);
for (const [k, v] of Object.entries(per))
  console.log(
    `| ${k} | ${msd(v.acc)} | ${msd(v.f1)} | ${msd(v.ece)} | ${pct(pool[k]!.acc)} / ${pct(pool[k]!.f1)} / ${pct(pool[k]!.ece)} |`,
  );
// per outer fold, so two embedding models run on the same folds can be compared fold by fold
console.log(`fused accuracy per outer fold: ${per['fused (weights + T by inner 4-fold OOF)']!.acc.map(pct).join(' ')}`);
for (const k of ['n-gram (product)', 'fused (weights + T by inner 4-fold OOF)'])
  console.log(`confusion (pooled, rows = true ${ds.labels.join('/')}) ${k}: ${JSON.stringify(pool[k]!.confusion)}`);
if (isAg) {
  for (const summary of [true, false]) {
    const s = summarise(score(split.train, split.test, summary));
    console.log(`hold-out (${split.test.length} rows, ${summary ? 'title + description' : 'title only'}):`);
    for (const [k, v] of Object.entries(s))
      console.log(`  ${k}: acc ${pct(v.acc)} macro-F1 ${pct(v.f1)} ECE ${pct(v.ece)}`);
  }
}
console.log(`seconds ${((performance.now() - t0) / 1000).toFixed(0)}`);
