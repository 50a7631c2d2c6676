// Classifier quality and speed: `npx tsx bench/classify.ts` (data: ../shared/data beside the repo, or FEEDLOG_SHARED_DATA).
// AG News: stratified 80/20 hold-out, seed 42, trained on the 80 % only. UCI: grouped 5-fold CV by STORY (every
// story is held out once, no story on both sides) plus the seeded 25 % story hold-out. Records/s = records per
// CPU-second on one thread (featurise + score + softmax), so a busy shared machine skews it less than wall time;
// "warm" repeats the hold-out texts for 0.5 s (a long-running stage), "cold" is one pass with empty word caches.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  buildXY,
  type Candidate,
  ClassifierModel,
  type Dataset,
  evaluate,
  FAST_CHARS,
  Featurizer,
  kFolds,
  loadDataset,
  makeSplit,
  measureThroughput,
  predictIndices,
  resolveCandidate,
  textOf,
  trainClassifier,
  trainDefaultModel,
  trainLinear,
} from '../processors/classify/src/index.ts';

const root = process.env.FEEDLOG_SHARED_DATA ?? fileURLToPath(new URL('../../shared/data', import.meta.url));
const AG = `${root}/ag_news/ag_news-dev.csv`;
const UCI = `${root}/uci/stories-dev.csv`;
const SEED = 42;

interface Arm {
  name: string;
  c: Candidate;
}
const BASELINE = 'softmax uni+bi, log-tf L2 (fastText-bigram style)';
const ARMS: Arm[] = [
  { name: 'nbsvm uni+bi+char3-5, sqrt-len [chosen]', c: { method: 'nbsvm', features: FAST_CHARS, params: { lr: 2 } } },
  { name: 'nbsvm uni+bi+char3-5, log-tf L2', c: { method: 'nbsvm', features: { chars: 0.5 }, params: { lr: 2 } } },
  { name: 'nbsvm uni+bi, log-tf L2', c: { method: 'nbsvm', features: { chars: 0 }, params: { lr: 2 } } },
  {
    name: 'nb-softmax uni+bi+char3-5, sqrt-len',
    c: { method: 'nb-softmax', features: FAST_CHARS, params: { lr: 0.5 } },
  },
  { name: BASELINE, c: { method: 'softmax', features: { chars: 0 }, params: { lr: 2 } } },
  { name: 'softmax uni+bi+char3-5, sqrt-len', c: { method: 'softmax', features: FAST_CHARS, params: { lr: 2 } } },
  {
    name: 'complement NB uni+bi+char3-5, sqrt-len',
    c: { method: 'cnb', features: FAST_CHARS, params: { alpha: 0.3 } },
  },
  { name: 'multinomial NB uni+bi, log-tf L2', c: { method: 'mnb', features: { chars: 0 }, params: { alpha: 0.3 } } },
];

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(2)}%`);
const int = (x: number | undefined) => (x === undefined ? '-' : Math.round(x).toLocaleString('en-US'));
function table(head: string[], rows: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log();
}

function agNews(): void {
  const ds = loadDataset(AG);
  console.log(`AG News: ${ds.examples.length} rows, stratified 80/20 hold-out, seed ${SEED}, trained on the 80 % only`);
  const rows: {
    arm: string;
    acc: number;
    f1: number;
    tAcc: number;
    tF1: number;
    rps: number;
    cold: number;
    tRps: number;
  }[] = [];
  for (const arm of ARMS) {
    const r = trainClassifier(ds, { seed: SEED, holdout: 0.2, candidates: [arm.c], refit: false });
    const h = r.header.metrics;
    const testTexts = ds.examples.filter((_, i) => !trainSet(r, i)).map((e) => textOf(e));
    rows.push({
      cold: coldThroughput(new ClassifierModel(r.header, r.weights), testTexts),
      arm: arm.name,
      acc: h.holdout!.accuracy,
      f1: h.holdout!.macroF1,
      tAcc: h.holdoutTitleOnly!.accuracy,
      tF1: h.holdoutTitleOnly!.macroF1,
      rps: h.holdout!.recordsPerSec!,
      tRps: h.holdoutTitleOnly!.recordsPerSec!,
    });
    process.stderr.write(`  ${arm.name}: ${pct(h.holdout!.accuracy)}\n`);
  }
  const base = rows.find((r) => r.arm === BASELINE)!;
  table(
    [
      'method (trained on title-only + full rows)',
      'acc',
      'macro-F1',
      'acc title-only',
      'F1 title-only',
      'rec/s warm',
      'rec/s cold',
      'rec/s title',
      'acc vs base',
      'speed vs base',
    ],
    rows.map((r) => [
      r.arm,
      pct(r.acc),
      pct(r.f1),
      pct(r.tAcc),
      pct(r.tF1),
      int(r.rps),
      int(r.cold),
      int(r.tRps),
      `${((r.acc - base.acc) * 100).toFixed(2)} pt`,
      `${(r.rps / base.rps).toFixed(2)}x`,
    ]),
  );
  // What text to train on when the stage mostly sees headlines only.
  const chosen = ARMS[0]!.c;
  const modes = (['full', 'title', 'both'] as const).map((mode) => {
    const r = trainClassifier(ds, {
      seed: SEED,
      holdout: 0.2,
      candidates: [chosen],
      refit: false,
      trainText: mode,
      measureSpeed: false,
    });
    return [
      mode,
      pct(r.holdout!.full.accuracy),
      pct(r.holdout!.full.macroF1),
      pct(r.holdout!.titleOnly?.accuracy),
      pct(r.holdout!.titleOnly?.macroF1),
    ];
  });
  table(['chosen method, training text', 'acc title+desc', 'F1 title+desc', 'acc title-only', 'F1 title-only'], modes);
}

/** Test rows of the seeded split, recomputed the way trainClassifier does it. */
let testRows: Set<number> | undefined;
function trainSet(_r: unknown, i: number): boolean {
  testRows ??= new Set(makeSplit(loadDataset(AG), 0.2, SEED, false).test);
  return !testRows.has(i);
}

/** One pass over the texts with a fresh model (empty word caches): records per CPU-second. */
function coldThroughput(m: ClassifierModel, texts: readonly string[]): number {
  const c0 = process.cpuUsage();
  for (const t of texts) m.predictOne(t);
  const c = process.cpuUsage(c0);
  return texts.length / ((c.user + c.system) / 1e6);
}

/** Stratified grouped k-fold CV over all rows: every story is tested once by a model that never saw it. */
function groupedCv(ds: Dataset, c: Candidate, k: number): { acc: number; f1: number } {
  const { features, params } = resolveCandidate(c, SEED);
  const f = new Featurizer(features);
  const labelIndex = new Map(ds.labels.map((l, i) => [l, i]));
  const rows = ds.examples.map((_, i) => i);
  const groups = ds.examples.map((e) => e.group ?? '');
  const truth: number[] = [];
  const pred: number[] = [];
  const ys = ds.examples.map((e) => labelIndex.get(e.label)!);
  for (const fold of kFolds(rows, k, SEED, groups, ys)) {
    const tr = buildXY(
      f,
      fold.train.map((i) => ds.examples[i]!),
      labelIndex,
      'full',
    );
    const m = trainLinear(tr.X, tr.y, ds.labels.length, f.dim, params);
    pred.push(
      ...predictIndices(
        m.weights,
        fold.test.map((i) => f.transform(textOf(ds.examples[i]!))),
      ),
    );
    truth.push(...fold.test.map((i) => labelIndex.get(ds.examples[i]!.label)!));
  }
  const ev = evaluate(truth, pred, ds.labels);
  return { acc: ev.accuracy, f1: ev.macroF1 };
}

function uci(): void {
  const ds = loadDataset(UCI);
  const stories = new Set(ds.examples.map((e) => e.group)).size;
  console.log(
    `UCI: ${ds.examples.length} headlines, ${stories} stories; split by STORY (health has 1 story: it is only ever tested unseen)`,
  );
  const rows: string[][] = [];
  let baseAcc = 0;
  const results = ARMS.map((arm) => {
    const cv = groupedCv(ds, arm.c, 5);
    const r = trainClassifier(ds, { seed: SEED, holdout: 0.25, candidates: [arm.c], refit: false });
    if (arm.name === BASELINE) baseAcc = cv.acc;
    process.stderr.write(`  ${arm.name}: ${pct(cv.acc)}\n`);
    return { arm, cv, r };
  });
  for (const { arm, cv, r } of results) {
    rows.push([
      arm.name,
      pct(cv.acc),
      pct(cv.f1),
      pct(r.holdout!.full.accuracy),
      pct(r.holdout!.full.macroF1),
      int(r.header.metrics.holdout!.recordsPerSec),
      `${((cv.acc - baseAcc) * 100).toFixed(2)} pt`,
    ]);
  }
  table(
    ['method', 'acc 5-fold by story', 'macro-F1 5-fold', 'acc 25% stories', 'F1 25% stories', 'rec/s', 'acc vs base'],
    rows,
  );
  // The bundled default model (hand-written fixture, no shared data) on every UCI headline.
  const def = trainDefaultModel().model;
  const labelOrder = def.labels;
  const truth = ds.examples.map((e) => labelOrder.indexOf(e.label));
  const pred = ds.examples.map((e) => labelOrder.indexOf(def.predictOne(textOf(e)).category));
  const ev = evaluate(truth, pred, labelOrder);
  const rps = measureThroughput(
    def,
    ds.examples.map((e) => textOf(e)),
  );
  table(
    ['default model (160 fixture headlines) on all UCI rows', 'acc', 'macro-F1', 'rec/s'],
    [[def.version, pct(ev.accuracy), pct(ev.macroF1), int(rps)]],
  );
}

if (!existsSync(AG)) console.log(`SKIPPED AG News: ${AG} not found`);
else agNews();
if (!existsSync(UCI)) console.log(`SKIPPED UCI: ${UCI} not found`);
else uci();
