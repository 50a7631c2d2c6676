// Issue 16, AG News ≥ 91 %: n-gram variants compared by 5-fold CV on the TRAINING part of
// ag_news-dev only (the stratified 80 % of `feedlog train classify`'s split, seed 42); the hold-out
// 20 % is scored once, for the CV winner only. Mean ± sd of fold accuracy.
//   FEEDLOG_SHARED_DATA=/work/shared/data nice -n 10 npx tsx bench/classify-ag91.ts [--only a,b] [--holdout name]
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  buildXY,
  type Candidate,
  evaluate,
  FAST_CHARS,
  Featurizer,
  kFolds,
  type LinearWeights,
  loadDataset,
  makeSplit,
  predictIndices,
  resolveCandidate,
  type TrainText,
  textOf,
  trainLinear,
} from '../processors/classify/src/index.ts';

const root = process.env.FEEDLOG_SHARED_DATA ?? fileURLToPath(new URL('../../shared/data', import.meta.url));
const { values } = parseArgs({
  options: { only: { type: 'string' }, folds: { type: 'string', default: '5' }, holdout: { type: 'string' } },
});
const SEED = 42;

interface Variant {
  name: string;
  /** members' logits are summed (a sum of linear models is one linear model: same artifact) */
  members: Candidate[];
  text?: TrainText;
}
const NB = (features: object, params: object = {}): Candidate => ({
  method: 'nbsvm',
  features: { ...FAST_CHARS, ...features },
  params: { lr: 2, ...params },
});
const VARIANTS: Variant[] = [
  { name: 'product: nbsvm word1-2 + char3-5 w0.5, lr 2', members: [NB({})] },
  { name: 'nbsvm char 2-5', members: [NB({ charMin: 2 })] },
  { name: 'nbsvm char 2-6', members: [NB({ charMin: 2, charMax: 6 })] },
  { name: 'nbsvm char w 1', members: [NB({ chars: 1 })] },
  { name: 'nbsvm char w 0.25', members: [NB({ chars: 0.25 })] },
  { name: 'nbsvm 2^22 buckets', members: [NB({ bits: 22 })] },
  { name: 'nbsvm lr 1', members: [NB({}, { lr: 1 })] },
  { name: 'nbsvm lr 4', members: [NB({}, { lr: 4 })] },
  { name: 'nbsvm epochs 20', members: [NB({}, { epochs: 20 })] },
  { name: 'nbsvm l2 1e-4', members: [NB({}, { l2: 1e-4 })] },
  { name: 'nbsvm l2 1e-6', members: [NB({}, { l2: 1e-6 })] },
  { name: 'nbsvm alpha 0.5', members: [NB({}, { alpha: 0.5 })] },
  { name: 'nbsvm alpha 2', members: [NB({}, { alpha: 2 })] },
  { name: 'nbsvm train text full only', members: [NB({})], text: 'full' },
  { name: 'nb-softmax', members: [{ method: 'nb-softmax', features: FAST_CHARS, params: { lr: 0.5 } }] },
  { name: 'cnb', members: [{ method: 'cnb', features: FAST_CHARS, params: { alpha: 0.3 } }] },
  {
    name: 'sum: nbsvm + nb-softmax',
    members: [NB({}), { method: 'nb-softmax', features: FAST_CHARS, params: { lr: 0.5 } }],
  },
  { name: 'sum: nbsvm seeds ×3', members: [NB({}, { seed: 1 }), NB({}, { seed: 2 }), NB({}, { seed: 3 })] },
  { name: 'nbsvm char 2-5, lr 1', members: [NB({ charMin: 2 }, { lr: 1 })] },
  { name: 'nbsvm char 2-5, lr 1, l2 1e-6', members: [NB({ charMin: 2 }, { lr: 1, l2: 1e-6 })] },
];

const ds = loadDataset(`${root}/ag_news/ag_news-dev.csv`);
const C = ds.labels.length;
const li = new Map(ds.labels.map((l, i) => [l, i]));
const y = ds.examples.map((e) => li.get(e.label)!);
const split = makeSplit(ds, 0.2, SEED, false);
const folds = kFolds(split.train, Number(values.folds), SEED + 1, undefined, y);
const only = values.only?.split(',').map(Number);
const featurizers = new Map<string, Featurizer>();

function fit(v: Variant, train: number[]): { w: LinearWeights; f: Featurizer } {
  let sum: LinearWeights | undefined;
  let f: Featurizer | undefined;
  for (const m of v.members) {
    const r = resolveCandidate(m, SEED);
    if (m.params?.seed !== undefined) r.params.seed = m.params.seed;
    const key = JSON.stringify(r.features);
    f = featurizers.get(key) ?? new Featurizer(r.features);
    featurizers.set(key, f);
    const xy = buildXY(
      f,
      train.map((i) => ds.examples[i]!),
      li,
      v.text ?? 'both',
    );
    const w = trainLinear(xy.X, xy.y, C, f.dim, r.params).weights;
    if (!sum) sum = w;
    else {
      for (let j = 0; j < w.w.length; j++) sum.w[j]! += w.w[j]!;
      for (let c = 0; c < C; c++) sum.b[c]! += w.b[c]!;
    }
  }
  return { w: sum!, f: f! };
}

const acc = (w: LinearWeights, f: Featurizer, rows: number[], summary = true) =>
  evaluate(
    rows.map((i) => y[i]!),
    predictIndices(
      w,
      rows.map((i) => f.transform(textOf(ds.examples[i]!, summary))),
    ),
    ds.labels,
  ).accuracy;

console.log(
  `AG dev ${ds.examples.length} rows; train part ${split.train.length}, ${folds.length} folds; hold-out ${split.test.length}`,
);
console.log('| # | variant | CV acc % mean ± sd | folds | s |');
console.log('|--:|---|--:|---|--:|');
for (const [n, v] of VARIANTS.entries()) {
  if (only && !only.includes(n)) continue;
  if (values.holdout !== undefined) continue;
  const t0 = performance.now();
  const accs = folds.map((fold) => {
    const { w, f } = fit(v, fold.train);
    return acc(w, f, fold.test);
  });
  const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
  const sd = Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / (accs.length - 1));
  console.log(
    `| ${n} | ${v.name} | ${(mean * 100).toFixed(2)} ± ${(sd * 100).toFixed(2)} | ${accs.map((a) => (a * 100).toFixed(1)).join(' ')} | ${((performance.now() - t0) / 1000).toFixed(0)} |`,
  );
}
if (values.holdout !== undefined) {
  for (const n of values.holdout.split(',').map(Number)) {
    const v = VARIANTS[n]!;
    const { w, f } = fit(v, split.train);
    console.log(
      `hold-out ${n} ${v.name}: acc ${(acc(w, f, split.test) * 100).toFixed(2)} % (title only ${(acc(w, f, split.test, false) * 100).toFixed(2)} %)`,
    );
  }
}
