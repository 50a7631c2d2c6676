// Meta-learners on the dumps of bench/classify-stack-dump.ts: every variant is chosen on the inner
// out-of-fold member distributions of an outer fold's training rows only, then scores that outer
// fold's rows (folds 0-4: nested CV) and, once, the hold-out (dump 5).
//   npx tsx bench/classify-stack.ts --dir /tmp/ag-stack/bge-small-en-v1.5
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { argmax, chooseFusion, fuse, kFolds, lbfgs, simplexGrid } from '../processors/classify/src/index.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '/tmp/ag-stack/bge-small-en-v1.5' },
    // extra members (bench/classify-stack-extra.ts), comma list; groups separated by ';' are fused in turn
    extra: { type: 'string', default: '' },
    only: { type: 'string' }, // comma list of variant name prefixes
  },
});
type Dump = {
  fold: number;
  labels: string[];
  fusion: { weights: number[]; memberTemperatures: number[]; temperature: number };
  oofY: number[];
  oof: number[][][];
  testY: number[];
  testFull: number[][][];
  testTitle: number[][][];
};
const base: Dump[] = [0, 1, 2, 3, 4, 5].map((f) => JSON.parse(readFileSync(`${values.dir}/fold-${f}.json`, 'utf8')));
/** the dumps with extra members appended (members 3, 4, ...) */
// '-1' in the list drops base member 1 (0 n-gram, 1 head, 2 kNN)
const withExtra = (extra: string[]): Dump[] =>
  base.map((d) => {
    const drop = new Set(extra.filter((m) => m.startsWith('-')).map((m) => Number(m.slice(1))));
    const keep = <T>(a: T[]) => a.filter((_, k) => !drop.has(k));
    const ex = extra
      .filter((m) => !m.startsWith('-'))
      .map((m) => JSON.parse(readFileSync(`${values.dir}/fold-${d.fold}.${m}.json`, 'utf8')));
    return {
      ...d,
      oof: [...keep(d.oof), ...ex.map((e) => e.oof)],
      testFull: [...keep(d.testFull), ...ex.map((e) => e.testFull)],
      testTitle: [...keep(d.testTitle), ...ex.map((e) => e.testTitle)],
    };
  });
const C = 4;
const EPS = 1e-12;
/** rows × members distributions */
const rowsOf = (ms: number[][][]): Float64Array[][] => ms[0]!.map((_, i) => ms.map((m) => Float64Array.from(m[i]!)));

/** multinomial LR on features; returns a predictor */
function fitLR(X: Float64Array[], y: number[], l2: number) {
  const d = X[0]!.length;
  const n = X.length;
  const P = C * d + C;
  const s = new Float64Array(C);
  const fg = (w: Float64Array, g: Float64Array) => {
    g.fill(0);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const x = X[i]!;
      let mx = -Infinity;
      for (let c = 0; c < C; c++) {
        let a = w[C * d + c]!;
        for (let j = 0; j < d; j++) a += w[c * d + j]! * x[j]!;
        s[c] = a;
        if (a > mx) mx = a;
      }
      let z = 0;
      for (let c = 0; c < C; c++) z += s[c] = Math.exp(s[c]! - mx);
      loss -= Math.log(Math.max(s[y[i]!]! / z, 1e-300)) / n;
      for (let c = 0; c < C; c++) {
        const r = (s[c]! / z - (c === y[i] ? 1 : 0)) / n;
        for (let j = 0; j < d; j++) g[c * d + j]! += r * x[j]!;
        g[C * d + c]! += r;
      }
    }
    for (let k = 0; k < C * d; k++) {
      loss += 0.5 * l2 * w[k]! ** 2;
      g[k]! += l2 * w[k]!;
    }
    return loss;
  };
  const { x: w } = lbfgs(fg, new Float64Array(P), { maxIter: 500 });
  return (x: Float64Array) => {
    const o = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      let a = w[C * d + c]!;
      for (let j = 0; j < d; j++) a += w[c * d + j]! * x[j]!;
      o[c] = a;
    }
    const mx = Math.max(...o);
    let z = 0;
    for (let c = 0; c < C; c++) z += o[c] = Math.exp(o[c]! - mx);
    for (let c = 0; c < C; c++) o[c]! /= z;
    return o;
  };
}
const logFeat = (ms: Float64Array[]) => {
  const f = new Float64Array(ms.length * C);
  ms.forEach((p, m) => {
    for (let c = 0; c < C; c++) f[m * C + c] = Math.log(p[c]! + EPS);
  });
  return f;
};
const L2_GRID = [1e-4, 1e-3, 1e-2, 1e-1];
/** L2 of the stacker by 5-fold CV over the out-of-fold rows (log-loss), then fit on all of them */
function stack(oofRows: Float64Array[][], y: number[], feat: (ms: Float64Array[]) => Float64Array, grid = L2_GRID) {
  const X = oofRows.map(feat);
  const idx = X.map((_, i) => i);
  const folds = kFolds(idx, 5, 7, undefined, y);
  let best = grid[0]!;
  let bestLoss = Infinity;
  for (const l2 of grid) {
    let loss = 0;
    for (const f of folds) {
      const pr = fitLR(
        f.train.map((i) => X[i]!),
        f.train.map((i) => y[i]!),
        l2,
      );
      for (const i of f.test) loss -= Math.log(pr(X[i]!)[y[i]!]! + EPS);
    }
    if (loss < bestLoss) {
      bestLoss = loss;
      best = l2;
    }
  }
  const pr = fitLR(X, y, best);
  return { l2: best, predict: (ms: Float64Array[]) => pr(feat(ms)) };
}

type Variant = (d: Dump, oof: Float64Array[][]) => { predict: (ms: Float64Array[]) => Float64Array; note?: string };
const variants: Record<string, Variant> = {
  'fused (product: log-linear, weights by OOF macro-F1)': (d) => ({ predict: (ms) => fuse(ms, d.fusion) }),
  'log-linear, re-chosen on a 1/20 weight grid': (d, oof) => {
    const M = oof[0]!.length;
    const ch = chooseFusion(
      Array.from({ length: M }, (_, m) => oof.map((r) => r[m]!)),
      d.oofY,
      d.labels,
      simplexGrid(M, M > 4 ? 10 : 20),
    );
    return { predict: (ms) => fuse(ms, ch), note: ch.weights.join('/') };
  },
  'log-linear, 1/10 grid (product procedure)': (d, oof) => {
    const M = oof[0]!.length;
    const ch = chooseFusion(
      Array.from({ length: M }, (_, m) => oof.map((r) => r[m]!)),
      d.oofY,
      d.labels,
    );
    return { predict: (ms) => fuse(ms, ch), note: ch.weights.join('/') };
  },
  'stacked LR on 12 log-probs (L2 by CV on OOF)': (d, oof) => {
    const s = stack(oof, d.oofY, logFeat);
    return { predict: s.predict, note: `l2 ${s.l2}` };
  },
  'stacked LR on 12 probs': (d, oof) => {
    const s = stack(oof, d.oofY, (ms) => Float64Array.from(ms.flatMap((p) => Array.from(p))));
    return { predict: s.predict, note: `l2 ${s.l2}` };
  },
  'stacked LR on 12 log-probs + 12 probs': (d, oof) => {
    const s = stack(oof, d.oofY, (ms) => {
      const a = logFeat(ms);
      return Float64Array.from([...a, ...ms.flatMap((p) => Array.from(p))]);
    });
    return { predict: s.predict, note: `l2 ${s.l2}` };
  },
};

const pct = (x: number) => (x * 100).toFixed(2);
const msd = (a: number[]) => {
  const m = a.reduce((s, v) => s + v, 0) / a.length;
  const sd = Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / (a.length - 1));
  return `${pct(m)} ± ${pct(sd)}`;
};
console.log(
  '| members | variant | nested CV acc % | per outer fold | hold-out % | hold-out title only % | chosen per fold |',
);
console.log('|---|---|--:|---|--:|--:|---|');
for (const group of values.extra.split(';')) {
  const extra = group.split(',').filter((m) => m);
  const dumps = withExtra(extra);
  for (const [name, v] of Object.entries(variants)) {
    if (values.only && !values.only.split(',').some((p) => name.startsWith(p))) continue;
    if (extra.length > 0 && name.startsWith('fused (product')) continue;
    const accs: number[] = [];
    const notes: string[] = [];
    let ho = 0;
    let hoT = 0;
    for (const d of dumps) {
      const fit = v(d, rowsOf(d.oof));
      notes.push(fit.note ?? '');
      const acc = (ms3: number[][][]) => {
        const rows = rowsOf(ms3);
        let ok = 0;
        rows.forEach((ms, i) => {
          if (argmax(fit.predict(ms)) === d.testY[i]) ok++;
        });
        return ok / rows.length;
      };
      if (d.fold < 5) accs.push(acc(d.testFull));
      else {
        ho = acc(d.testFull);
        hoT = acc(d.testTitle);
      }
    }
    console.log(
      `| 3${extra.map((m) => ` + ${m}`).join('')} | ${name} | ${msd(accs)} | ${accs.map(pct).join(' ')} | ${pct(ho)} | ${pct(hoT)} | ${notes.join('; ')} |`,
    );
  }
}
