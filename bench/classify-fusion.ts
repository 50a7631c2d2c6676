// Classifier quality (issue 16): n-gram NB-SVM (the product model) vs a softmax head on sentence
// embeddings vs their late fusion, each with and without class-balanced training, temperature-
// calibrated; every choice (head lr, fusion weight, balancing, temperature) by CV on the training
// part only.
//   FEEDLOG_SHARED_DATA=/work/shared/data npx tsx bench/classify-fusion.ts
// AG News: stratified 80/20 hold-out of ag_news-dev (seed 42), 3-fold CV inside the 80 %.
// UCI: 5 folds grouped by story (each fold's choices by 3-fold grouped CV inside the other 4).
// Embeddings through the EmbeddingClient, cached under .feedlog/cache (bench/lib/embed-file.ts).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  buildXY,
  type Dataset,
  evaluate,
  expectedCalibrationError,
  FAST_CHARS,
  Featurizer,
  kFolds,
  loadDataset,
  makeSplit,
  resolveCandidate,
  type SparseVec,
  scoreInto,
  softmaxInPlace,
  textOf,
  trainLinear,
} from '../processors/classify/src/index.ts';
import { embedAll } from './lib/embed-file.ts';

const root = process.env.FEEDLOG_SHARED_DATA ?? fileURLToPath(new URL('../../shared/data', import.meta.url));
const SEED = 42;
type P = Float64Array[];

async function study(ds: Dataset, outer: { train: number[]; test: number[] }[], innerGroups: boolean) {
  const C = ds.labels.length;
  const li = new Map(ds.labels.map((l, i) => [l, i]));
  const y = ds.examples.map((e) => li.get(e.label)!);
  const emb = (await embedAll(ds.examples.map((e) => textOf(e)))).vectors;
  const D = emb[0]!.length;
  const dense = (v: Float32Array): SparseVec => ({ idx: Int32Array.from(v, (_, i) => i), val: v });
  const lex = resolveCandidate({ method: 'nbsvm', features: FAST_CHARS, params: { lr: 2 } }, SEED);
  const fz = new Featurizer(lex.features);
  const groups = ds.examples.map((e, i) => e.group ?? `row:${i}`);

  /** rows repeated so every class has as many as the largest (class-balanced SGD / NB counts) */
  const balance = (rows: number[]) => {
    const by = Array.from({ length: C }, () => [] as number[]);
    for (const i of rows) by[y[i]!]!.push(i);
    const most = Math.max(...by.map((b) => b.length));
    return by.flatMap((b) => (b.length ? Array.from({ length: most }, (_, j) => b[j % b.length]!) : []));
  };
  const probs = (w: ReturnType<typeof trainLinear>, xs: SparseVec[]): P =>
    xs.map((x) => {
      const s = new Float64Array(C);
      scoreInto(w.weights, x, s);
      softmaxInPlace(s, C, w.temperature);
      return s;
    });
  const lexP = (train: number[], test: number[], bal: boolean) => {
    const rows = bal ? balance(train) : train;
    const xy = buildXY(
      fz,
      rows.map((i) => ds.examples[i]!),
      li,
      'both',
    );
    return probs(
      trainLinear(xy.X, xy.y, C, fz.dim, lex.params),
      test.map((i) => fz.transform(textOf(ds.examples[i]!))),
    );
  };
  const embP = (train: number[], test: number[], bal: boolean, lr: number) => {
    const rows = bal ? balance(train) : train;
    const w = trainLinear(
      rows.map((i) => dense(emb[i]!)),
      rows.map((i) => y[i]!),
      C,
      D,
      { method: 'softmax', epochs: 30, lr, l2: 1e-6, alpha: 1, seed: SEED },
    );
    return probs(
      w,
      test.map((i) => dense(emb[i]!)),
    );
  };
  /** log-linear fusion with weight a on the n-gram model, then temperature T */
  const fuse = (a: P, b: P, w: number, T: number): P =>
    a.map((p, i) => {
      const s = Float64Array.from(p, (v, c) => (w * Math.log(v + 1e-12) + (1 - w) * Math.log(b[i]![c]! + 1e-12)) / T);
      softmaxInPlace(s, C, 1);
      return s;
    });
  const argmax = (p: Float64Array) => p.indexOf(Math.max(...p));
  const score = (p: P, rows: number[]) => {
    const m = evaluate(
      rows.map((i) => y[i]!),
      p.map(argmax),
      ds.labels,
    );
    const conf = p.map((s) => Math.max(...s));
    const ok = p.map((s, j) => argmax(s) === y[rows[j]!]);
    return { accuracy: m.accuracy, macroF1: m.macroF1, ece: expectedCalibrationError(conf, ok) };
  };
  const nll = (p: P, rows: number[]) => -p.reduce((a, s, j) => a + Math.log(s[y[rows[j]!]!]! + 1e-12), 0) / p.length;

  const WS = [0, 0.3, 0.5, 0.7, 1];
  const TS = [0.5, 0.75, 1, 1.5, 2, 3];
  const LR = 2;
  const variants = new Map<string, { truth: number[]; p: P }>();
  const add = (name: string, rows: number[], p: P) => {
    const v = variants.get(name) ?? { truth: [], p: [] };
    v.truth.push(...rows);
    v.p.push(...p);
    variants.set(name, v);
  };
  const chosen: string[] = [];
  for (const fold of outer) {
    // inner CV on the training part: out-of-fold probabilities of both models, balanced or not
    const inner = kFolds(fold.train, 3, SEED + 1, innerGroups ? groups : undefined, y);
    const oof = { rows: [] as number[], lex: [[], []] as P[], emb: [[], []] as P[] };
    for (const f of inner) {
      oof.rows.push(...f.test);
      for (const b of [0, 1]) {
        oof.lex[b]!.push(...lexP(f.train, f.test, b === 1));
        oof.emb[b]!.push(...embP(f.train, f.test, b === 1, LR));
      }
    }
    let best = { key: '', w: 1, T: 1, bal: 0, f: -1 };
    for (const bal of [0, 1])
      for (const w of WS) {
        const p = fuse(oof.lex[bal]!, oof.emb[bal]!, w, 1);
        const s = score(p, oof.rows);
        // macro-F1 (skewed label sets), accuracy as the tie-break
        const f = s.macroF1 + 1e-3 * s.accuracy;
        if (f > best.f) best = { key: `${bal}|${w}`, w, T: 1, bal, f };
      }
    const calib = (a: P, b: P, w: number) =>
      TS.reduce((t, T) => (nll(fuse(a, b, w, T), oof.rows) < nll(fuse(a, b, w, t), oof.rows) ? T : t), 1);
    best.T = calib(oof.lex[best.bal]!, oof.emb[best.bal]!, best.w);
    chosen.push(`balanced ${best.bal === 1}, w(n-gram) ${best.w}, T ${best.T}`);
    const bal = best.bal === 1;
    const lx = [lexP(fold.train, fold.test, false), lexP(fold.train, fold.test, true)];
    const em = [embP(fold.train, fold.test, false, LR), embP(fold.train, fold.test, true, LR)];
    const Tlex = [0, 1].map((b) => calib(oof.lex[b]!, oof.emb[b]!, 1));
    add('n-gram NB-SVM (product)', fold.test, lx[0]!);
    add('n-gram, class-balanced', fold.test, lx[1]!);
    add('n-gram, temperature by CV', fold.test, fuse(lx[0]!, em[0]!, 1, Tlex[0]!));
    add('embedding softmax head', fold.test, em[0]!);
    add('embedding head, class-balanced', fold.test, em[1]!);
    add('fusion, w 0.5', fold.test, fuse(lx[0]!, em[0]!, 0.5, 1));
    add('chosen by CV (balance, weight) + temperature', fold.test, fuse(lx[+bal]!, em[+bal]!, best.w, best.T));
  }
  return { variants, chosen, score, y };
}

const pct = (x: number) => `${(x * 100).toFixed(2)}`;
async function report(name: string, ds: Dataset, outer: { train: number[]; test: number[] }[], grouped: boolean) {
  const r = await study(ds, outer, grouped);
  console.log(`\n${name}`);
  console.log('| variant | accuracy % | macro-F1 % (all classes) | ECE % |');
  console.log('|---|--:|--:|--:|');
  for (const [v, { truth, p }] of r.variants) {
    const s = r.score(p, truth);
    console.log(`| ${v} | ${pct(s.accuracy)} | ${pct(s.macroF1)} | ${pct(s.ece)} |`);
  }
  console.log(`chosen per outer fold: ${r.chosen.join('; ')}`);
}

const AG = `${root}/ag_news/ag_news-dev.csv`;
const UCI = `${root}/uci/stories-dev.csv`;
if (!existsSync(AG) || !existsSync(UCI)) {
  console.log('SKIPPED: data not found');
  process.exit(0);
}
const ag = loadDataset(AG);
const agSplit = makeSplit(ag, 0.2, SEED, false);
await report(`AG News: hold-out ${agSplit.test.length} rows (stratified 20 %, seed ${SEED})`, ag, [agSplit], false);
const uci = loadDataset(UCI);
const li = new Map(uci.labels.map((l, i) => [l, i]));
const uy = uci.examples.map((e) => li.get(e.label)!);
const ug = uci.examples.map((e, i) => e.group ?? `row:${i}`);
const outer = kFolds(
  uci.examples.map((_, i) => i),
  5,
  SEED,
  ug,
  uy,
);
await report('UCI stories-dev: 5 folds grouped by story (pooled)', uci, outer, true);
