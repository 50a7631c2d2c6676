// Extra fusion members for the dumps of bench/classify-stack-dump.ts, trained on the SAME inner folds
// (out-of-fold distributions of the outer training rows) and on all outer training rows (the rows
// being scored). Written next to the dump as fold-F.M.json; bench/classify-stack.ts --extra M fuses them.
//   source /tmp/bge/env.sh; flock /tmp/bench.lock nice -n 10 npx tsx bench/classify-stack-extra.ts --member mlp --only 0,1
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  DEFAULT_CANDIDATES,
  headProbabilities,
  KnnVoter,
  textOf,
  trainClassifier,
  trainEmbeddingHead,
} from '../processors/classify/src/index.ts';
import { loadAgVectors } from './lib/ag-vectors.ts';
import { embedAll } from './lib/embed-file.ts';
import { type MlpHead, mlpProbabilities, trainMlpHead } from './lib/mlp-head.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'bge-small-en-v1.5' },
    dir: { type: 'string', default: '/tmp/ag-stack' },
    member: { type: 'string', default: 'mlp' },
    only: { type: 'string', default: '0,1,2,3,4,5' },
    hidden: { type: 'string', default: '256' },
    epochs: { type: 'string', default: '30' },
    wd: { type: 'string', default: '0.01' },
    dropout: { type: 'string', default: '0.2' },
    lr: { type: 'string', default: '0.001' },
  },
});
const MODEL = values.model;
const { ds, y, full, title } = await loadAgVectors(MODEL);
const C = ds.labels.length;
const unit = (v: Float32Array) => {
  let s = 0;
  for (const x of v) s += x * x;
  const k = 1 / Math.sqrt(s);
  return v.map((x) => x * k);
};
// description alone (idea 4: title and description embedded separately); rows without one use the title
const desc = (
  await embedAll(
    ds.examples.map((e) => e.summary || e.title),
    MODEL,
  )
).vectors;
const cat = (a: Float32Array, b: Float32Array) => {
  const v = new Float32Array(a.length + b.length);
  v.set(a);
  v.set(b, a.length);
  return v.map((x) => x / Math.SQRT2);
};
const mean = full.map((v, i) => unit(v.map((x, j) => x + title[i]![j]!)));
/** the vector of row i for the member's view; titleOnly: the record has no description (title vector only) */
type View = (i: number, titleOnly: boolean) => Float32Array;
const views: Record<string, View> = {
  full: (i, t) => (t ? title[i]! : full[i]!),
  title: (i) => title[i]!,
  mean: (i, t) => (t ? title[i]! : mean[i]!),
  desc: (i, t) => (t ? title[i]! : desc[i]!),
  // title ⊕ description, each unit, scaled to unit length (a title-only record: title ⊕ title)
  tdcat: (i, t) => cat(title[i]!, t ? title[i]! : desc[i]!),
  // full ⊕ title ⊕ description
  all3: (i, t) => unit(cat(cat(t ? title[i]! : full[i]!, title[i]!), t ? title[i]! : desc[i]!)),
};
type Fit = (train: number[], heldOut: number[][]) => { scores: (rows: number[], titleOnly: boolean) => Float64Array[] };

const H = Number(values.hidden);
const MAX_EPOCHS = Number(values.epochs);
const mlpOpts = {
  hidden: H,
  weightDecay: Number(values.wd),
  dropout: Number(values.dropout),
  lr: Number(values.lr),
  seed: 42,
};

function headMember(view: View, l2: number): Fit {
  return (train) => {
    const h = trainEmbeddingHead(
      train.map((i) => view(i, false)),
      train.map((i) => y[i]!),
      C,
      { l2 },
    );
    return { scores: (rows, t) => rows.map((i) => headProbabilities(h, view(i, t))) };
  };
}
function knnMember(view: View, k = 30): Fit {
  return (train) => {
    const kn = KnnVoter.fromRows(
      train.map((i) => view(i, false)),
      train.map((i) => y[i]!),
      C,
      { k },
    );
    return { scores: (rows, t) => kn.probabilities(rows.map((i) => view(i, t))) };
  };
}
/** kNN on vectors centred by the training rows' mean (and, with std, scaled to unit variance per dimension), re-normalised */
function knnCentred(view: View, std: boolean, k = 30): Fit {
  return (train) => {
    const D = view(train[0]!, false).length;
    const mu = new Float64Array(D);
    const sq = new Float64Array(D);
    for (const i of train) {
      const v = view(i, false);
      for (let j = 0; j < D; j++) mu[j]! += v[j]! / train.length;
    }
    for (const i of train) {
      const v = view(i, false);
      for (let j = 0; j < D; j++) sq[j]! += (v[j]! - mu[j]!) ** 2 / train.length;
    }
    const tr = (v: Float32Array) => unit(v.map((x, j) => (x - mu[j]!) / (std ? Math.sqrt(sq[j]!) + 1e-8 : 1)));
    const kn = KnnVoter.fromRows(
      train.map((i) => tr(view(i, false))),
      train.map((i) => y[i]!),
      C,
      { k },
    );
    return { scores: (rows, t) => kn.probabilities(rows.map((i) => tr(view(i, t)))) };
  };
}
function ngramMember(cand: number): Fit {
  return (train) => {
    const r = trainClassifier(
      { ...ds, examples: train.map((i) => ds.examples[i]!) },
      { seed: 42, holdout: 0, candidates: [DEFAULT_CANDIDATES[cand]!], measureSpeed: false },
    );
    return {
      scores: (rows, t) => rows.map((i) => Float64Array.from(r.model.probabilities(textOf(ds.examples[i]!, !t)))),
    };
  };
}

/** the product's n-gram recipe with several SGD seeds, distributions averaged (bagging the SGD order) */
function ngramBag(seeds: number[]): Fit {
  return (train) => {
    const ms = seeds.map(
      (seed) =>
        trainClassifier(
          { ...ds, examples: train.map((i) => ds.examples[i]!) },
          { seed, holdout: 0, candidates: [DEFAULT_CANDIDATES[0]!], measureSpeed: false },
        ).model,
    );
    return {
      scores: (rows, t) =>
        rows.map((i) => {
          const out = new Float64Array(C);
          for (const m of ms) {
            const p = m.probabilities(textOf(ds.examples[i]!, !t));
            for (let c = 0; c < C; c++) out[c]! += p[c]! / ms.length;
          }
          return out;
        }),
    };
  };
}
const dumpOf = (f: number) =>
  JSON.parse(readFileSync(`${values.dir}/${MODEL}/fold-${f}.json`, 'utf8')) as {
    train: number[];
    test: number[];
    headL2: number;
    innerFolds: { train: number[]; test: number[] }[];
  };

for (const f of values.only.split(',').map(Number)) {
  const t0 = performance.now();
  const d = dumpOf(f);
  const pos = new Map(d.train.map((r, j) => [r, j]));
  const oof: Float64Array[] = new Array(d.train.length);
  let testFull: Float64Array[];
  let testTitle: Float64Array[];
  let note = '';
  if (values.member === 'mlp' || values.member === 'mlp-mean') {
    const view = values.member === 'mlp' ? views.full! : views.mean!;
    // per inner fold: the held-out rows' distributions after every epoch; the epoch count with the
    // least summed log-loss over the 4 inner folds is the early stop (OOF = those distributions)
    const perEpoch: Float64Array[][] = Array.from({ length: MAX_EPOCHS }, () => new Array(d.train.length));
    for (const fold of d.innerFolds) {
      trainMlpHead(
        fold.train.map((i) => view(i, false)),
        fold.train.map((i) => y[i]!),
        C,
        {
          ...mlpOpts,
          epochs: MAX_EPOCHS,
          onEpoch: (ep, m: MlpHead) => {
            for (const i of fold.test) perEpoch[ep - 1]![pos.get(i)!] = mlpProbabilities(m, view(i, false));
          },
        },
      );
    }
    const loss = perEpoch.map((ps) => ps.reduce((s, p, j) => s - Math.log(p[y[d.train[j]!]!]! + 1e-12), 0) / ps.length);
    const best = loss.indexOf(Math.min(...loss));
    perEpoch[best]!.forEach((p, j) => {
      oof[j] = p;
    });
    const m = trainMlpHead(
      d.train.map((i) => view(i, false)),
      d.train.map((i) => y[i]!),
      C,
      { ...mlpOpts, epochs: best + 1 },
    );
    testFull = d.test.map((i) => mlpProbabilities(m, view(i, false)));
    testTitle = d.test.map((i) => mlpProbabilities(m, view(i, true)));
    const acc = perEpoch.map(
      (ps) => ps.reduce((s, p, j) => s + (p.indexOf(Math.max(...p)) === y[d.train[j]!] ? 1 : 0), 0) / ps.length,
    );
    note = `epochs ${best + 1}; inner log-loss ${loss.map((v) => v.toFixed(3)).join(' ')}; inner acc ${acc.map((v) => (v * 100).toFixed(1)).join(' ')}`;
  } else {
    const fits: Record<string, Fit> = {
      'head-title': headMember(views.title!, d.headL2),
      'knn-title': knnMember(views.title!),
      'head-mean': headMember(views.mean!, d.headL2),
      'knn-mean': knnMember(views.mean!),
      'knn-full-10': knnMember(views.full!, 10),
      'knn-centred': knnCentred(views.full!, false),
      'head-desc': headMember(views.desc!, d.headL2),
      'knn-desc': knnMember(views.desc!),
      'head-tdcat': headMember(views.tdcat!, d.headL2),
      'knn-tdcat': knnMember(views.tdcat!),
      'head-all3': headMember(views.all3!, d.headL2),
      'knn-all3': knnMember(views.all3!),
      'knn-std': knnCentred(views.full!, true),
      'ngram-nbsoftmax': ngramMember(1),
      'ngram-cnb': ngramMember(2),
      'ngram-bag3': ngramBag([42, 43, 44]),
    };
    const fit = fits[values.member];
    if (!fit) throw new Error(`unknown member ${values.member}`);
    for (const fold of d.innerFolds) {
      const s = fit(fold.train, []).scores(fold.test, false);
      fold.test.forEach((i, t) => {
        oof[pos.get(i)!] = s[t]!;
      });
    }
    const fm = fit(d.train, []);
    testFull = fm.scores(d.test, false);
    testTitle = fm.scores(d.test, true);
  }
  const arr = (ps: Float64Array[]) => ps.map((p) => Array.from(p));
  writeFileSync(
    `${values.dir}/${MODEL}/fold-${f}.${values.member}.json`,
    JSON.stringify({ oof: arr(oof), testFull: arr(testFull), testTitle: arr(testTitle), note }),
  );
  const ok = testFull.filter((p, t) => p.indexOf(Math.max(...p)) === y[d.test[t]!]).length / d.test.length;
  process.stderr.write(
    `fold ${f} ${values.member}: alone ${(ok * 100).toFixed(2)} % ${((performance.now() - t0) / 1000).toFixed(0)} s ${note}\n`,
  );
}
