// Issue 16 (AG 91 %), experiments on the fused classifier's fusion step: for each outer fold of
// bench/classify-fused.ts (same split, same folds, same seeds) and for the hold-out, trains the
// fused model once and writes (a) the inner out-of-fold member distributions its fusion is chosen
// on and (b) the member distributions of the rows being scored, so meta-learners (bench/classify-stack.ts)
// can be compared on the same members without retraining them.
//   source /tmp/bge/env.sh; flock /tmp/bench.lock nice -n 10 npx tsx bench/classify-stack-dump.ts --model bge-small-en-v1.5 --out /tmp/ag-stack
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_CANDIDATES, kFolds, makeSplit, textOf, trainFused } from '../processors/classify/src/index.ts';
import { loadAgVectors } from './lib/ag-vectors.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'bge-small-en-v1.5' },
    out: { type: 'string', default: '/tmp/ag-stack' },
    only: { type: 'string' }, // comma list of fold indices (0-4, 5 = hold-out)
  },
});
const MODEL = values.model;
const SEED = 42;
const { ds, y, full, title } = await loadAgVectors(MODEL);
const split = makeSplit(ds, 0.2, SEED, false);
const outer = kFolds(split.train, 5, SEED + 1, undefined, y);
const jobs = [...outer, { train: split.train, test: split.test }];
const dir = `${values.out}/${MODEL}`;
mkdirSync(dir, { recursive: true });
const only = values.only ? new Set(values.only.split(',').map(Number)) : undefined;
const arr = (ps: readonly Float64Array[]) => ps.map((p) => Array.from(p));
for (const [f, job] of jobs.entries()) {
  if (only && !only.has(f)) continue;
  const t0 = performance.now();
  const r = trainFused(ds, {
    rows: job.train,
    vectors: full,
    embeddingModel: MODEL,
    seed: SEED,
    candidates: [DEFAULT_CANDIDATES[0]!],
  });
  const m = r.model;
  const testFull = m.memberProbabilities(
    job.test.map((i) => textOf(ds.examples[i]!)),
    job.test.map((i) => full[i]!),
  );
  const testTitle = m.memberProbabilities(
    job.test.map((i) => textOf(ds.examples[i]!, false)),
    job.test.map((i) => title[i]!),
  );
  writeFileSync(
    `${dir}/fold-${f}.json`,
    JSON.stringify({
      fold: f,
      labels: ds.labels,
      fusion: m.header.fusion,
      headL2: m.header.head.l2,
      train: job.train,
      innerFolds: r.oof.folds,
      oofY: r.oof.y,
      oof: r.oof.members.map(arr),
      test: job.test,
      testY: job.test.map((i) => y[i]!),
      testFull: [0, 1, 2].map((k) => testFull.map((ms) => Array.from(ms[k]!))),
      testTitle: [0, 1, 2].map((k) => testTitle.map((ms) => Array.from(ms[k]!))),
    }),
  );
  process.stderr.write(
    `fold ${f} ${((performance.now() - t0) / 1000).toFixed(0)} s ${JSON.stringify(m.header.fusion.weights)}\n`,
  );
}
