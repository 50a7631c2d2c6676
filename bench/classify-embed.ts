// Would a sentence-embedding head reach 90 % on AG News? Measurement only (the product classifier stays lexical):
//   npx tsx bench/classify-embed.ts      (needs ../shared/data and the embedder's model cache; see processors/embedder)
// Same split as bench/classify.ts (stratified 80/20, seed 42). Heads are picked by 3-fold CV on the 80 % only.
// Compares: n-gram NB-SVM (chosen lexical model), softmax on MiniLM embeddings, and late fusion of the two
// (weighted sum of log-probabilities, weight chosen by CV). Embedding cost is measured on one ORT session, one thread.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { envVar, readEnvVar } from '@feedlog/common/define-env';
import { commonEnv } from '@feedlog/common/env';
import {
  buildXY,
  evaluate,
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
import { loadModels } from '../processors/embedder/src/index.ts';

const root = process.env.FEEDLOG_SHARED_DATA ?? fileURLToPath(new URL('../../shared/data', import.meta.url));
const AG = `${root}/ag_news/ag_news-dev.csv`;
const SEED = 42;
const MODEL = readEnvVar(envVar(commonEnv, 'EMBEDDING_MODEL'));
if (!existsSync(AG)) {
  console.log(`SKIPPED: ${AG} not found`);
  process.exit(0);
}

const ds = loadDataset(AG);
const labelIndex = new Map(ds.labels.map((l, i) => [l, i]));
const y = ds.examples.map((e) => labelIndex.get(e.label)!);
const split = makeSplit(ds, 0.2, SEED, false);
const C = ds.labels.length;

const [model] = await loadModels([MODEL], { sessions: 1, intraOpThreads: 1 });
// Vectors are cached under .feedlog/ (git-ignored) keyed by model + texts, so a rerun skips the slow part.
const cacheDir = fileURLToPath(new URL('../.feedlog/cache/classify-embed', import.meta.url));
async function embedAll(texts: string[]): Promise<{ vecs: Float32Array[]; perSec: number }> {
  const key = createHash('sha256').update(MODEL).update(texts.join('\u0000')).digest('hex').slice(0, 16);
  const file = `${cacheDir}/${key}.json`;
  if (existsSync(file)) {
    const c = JSON.parse(readFileSync(file, 'utf8')) as { perSec: number; b64: string; dim: number };
    const all = new Float32Array(new Uint8Array(Buffer.from(c.b64, 'base64')).buffer);
    return { vecs: texts.map((_, i) => all.slice(i * c.dim, (i + 1) * c.dim)), perSec: c.perSec };
  }
  const out: Float32Array[] = [];
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < texts.length; i += 64) {
    const rows = texts.slice(i, i + 64).map((t) => model!.tokenizer.encode(t));
    for (const v of await model!.embed(rows)) out.push(Float32Array.from(v));
    if ((i / 64) % 20 === 0) process.stderr.write(`  embedded ${i}/${texts.length}\n`);
  }
  const c = process.cpuUsage(c0);
  const wall = (performance.now() - t0) / 1000;
  void c;
  const dim = out[0]!.length;
  const flat = new Float32Array(out.length * dim);
  out.forEach((v, i) => {
    flat.set(v, i * dim);
  });
  mkdirSync(cacheDir, { recursive: true });
  const perSec = texts.length / wall;
  writeFileSync(file, JSON.stringify({ perSec, dim, b64: Buffer.from(flat.buffer).toString('base64') }));
  return { vecs: out, perSec };
}
const full = await embedAll(ds.examples.map((e) => textOf(e)));
const titles = await embedAll(ds.examples.map((e) => textOf(e, false)));
const dense = (v: Float32Array): SparseVec => ({ idx: Int32Array.from(v, (_, i) => i), val: v });

const D = full.vecs[0]!.length;
function probsOf(w: ReturnType<typeof trainLinear>, xs: SparseVec[]): Float64Array[] {
  return xs.map((x) => {
    const s = new Float64Array(C);
    scoreInto(w.weights, x, s);
    softmaxInPlace(s, C, w.temperature);
    return s;
  });
}
function acc(p: Float64Array[], rows: number[]): { accuracy: number; macroF1: number } {
  const pred = p.map((s) => s.indexOf(Math.max(...s)));
  return evaluate(
    rows.map((i) => y[i]!),
    pred,
    ds.labels,
  );
}

// Lexical model (chosen recipe), trained on title-only + full rows like the CLI default.
const lex = resolveCandidate({ method: 'nbsvm', features: FAST_CHARS, params: { lr: 2 } }, SEED);
const fz = new Featurizer(lex.features);
function trainLex(rows: number[]) {
  const xy = buildXY(
    fz,
    rows.map((i) => ds.examples[i]!),
    labelIndex,
    'both',
  );
  return trainLinear(xy.X, xy.y, C, fz.dim, lex.params);
}
function trainEmb(rows: number[], lr: number) {
  const X = [...rows.map((i) => dense(full.vecs[i]!)), ...rows.map((i) => dense(titles.vecs[i]!))];
  const Y = [...rows.map((i) => y[i]!), ...rows.map((i) => y[i]!)];
  return trainLinear(X, Y, C, D, { method: 'softmax', epochs: 30, lr, l2: 1e-6, alpha: 1, seed: SEED });
}
const fuse = (a: Float64Array[], b: Float64Array[], w: number) =>
  a.map((p, i) => Float64Array.from(p, (v, c) => w * Math.log(v + 1e-12) + (1 - w) * Math.log(b[i]![c]! + 1e-12)));

// CV on the training part: embedding lr and the fusion weight.
const LRS = [0.5, 2, 8];
const WS = [0, 0.3, 0.5, 0.7, 1];
const cvScore = new Map<string, number>();
for (const fold of kFolds(split.train, 3, SEED + 1)) {
  const lexP = probsOf(
    trainLex(fold.train),
    fold.test.map((i) => fz.transform(textOf(ds.examples[i]!))),
  );
  for (const lr of LRS) {
    const embP = probsOf(
      trainEmb(fold.train, lr),
      fold.test.map((i) => dense(full.vecs[i]!)),
    );
    for (const w of WS) {
      const k = `${lr}|${w}`;
      cvScore.set(k, (cvScore.get(k) ?? 0) + acc(fuse(lexP, embP, w), fold.test).accuracy / 3);
    }
  }
}
const bestEmbLr = LRS.reduce((a, b) => ((cvScore.get(`${b}|0`) ?? 0) > (cvScore.get(`${a}|0`) ?? 0) ? b : a));
let best = { lr: LRS[0]!, w: 0.5, s: -1 };
for (const lr of LRS)
  for (const w of WS) if (cvScore.get(`${lr}|${w}`)! > best.s) best = { lr, w, s: cvScore.get(`${lr}|${w}`)! };
console.log(
  `CV (3-fold, training part): embedding-only best lr ${bestEmbLr}: ${(cvScore.get(`${bestEmbLr}|0`)! * 100).toFixed(2)}%; n-gram only: ${(cvScore.get(`${LRS[0]}|1`)! * 100).toFixed(2)}%; fusion best lr ${best.lr} w(n-gram) ${best.w}: ${(best.s * 100).toFixed(2)}%`,
);

// Hold-out.
const test = split.test;
const lexModel = trainLex(split.train);
const lexFull = probsOf(
  lexModel,
  test.map((i) => fz.transform(textOf(ds.examples[i]!))),
);
const lexTitle = probsOf(
  lexModel,
  test.map((i) => fz.transform(textOf(ds.examples[i]!, false))),
);
const embOnly = trainEmb(split.train, bestEmbLr);
const embFull = probsOf(
  embOnly,
  test.map((i) => dense(full.vecs[i]!)),
);
const embTitle = probsOf(
  embOnly,
  test.map((i) => dense(titles.vecs[i]!)),
);
const embFused = best.lr === bestEmbLr ? embOnly : trainEmb(split.train, best.lr);
const fFull = probsOf(
  embFused,
  test.map((i) => dense(full.vecs[i]!)),
);
const fTitle = probsOf(
  embFused,
  test.map((i) => dense(titles.vecs[i]!)),
);
const rows: [string, { accuracy: number; macroF1: number }, { accuracy: number; macroF1: number }, string][] = [
  ['n-gram NB-SVM (product)', acc(lexFull, test), acc(lexTitle, test), 'see bench/classify.ts'],
  [
    `${MODEL} + softmax head`,
    acc(embFull, test),
    acc(embTitle, test),
    `${full.perSec.toFixed(0)} (title+desc), ${titles.perSec.toFixed(0)} (title)`,
  ],
  [
    `fusion (w n-gram ${best.w})`,
    acc(fuse(lexFull, fFull, best.w), test),
    acc(fuse(lexTitle, fTitle, best.w), test),
    'embedding cost dominates',
  ],
];
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
console.log(
  `AG News hold-out (${test.length} rows, seed ${SEED}); embedding records/s on 1 ORT session x 1 thread (wall)`,
);
console.log(['method', 'acc', 'macro-F1', 'acc title-only', 'F1 title-only', 'records/s'].join(' | '));
for (const [n, a, t, s] of rows)
  console.log([n, pct(a.accuracy), pct(a.macroF1), pct(t.accuracy), pct(t.macroF1), s].join(' | '));
// The ORT worker threads keep the process alive; exit without close() (close aborted once on this machine).
process.exit(0);
