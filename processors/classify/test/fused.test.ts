import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  chooseFusion,
  type Dataset,
  decodeFused,
  fuse,
  headProbabilities,
  isFused,
  KnnVoter,
  lbfgs,
  loadAnyClassifyModel,
  ModelArtifactError,
  mulberry32,
  saveFused,
  simplexGrid,
  trainClassifier,
  trainEmbeddingHead,
  trainFused,
  writeModel,
} from '../src/index.ts';

/** unit vectors around one centre per class (+ noise), dims 8 */
function clusters(perClass: number, seed = 7, spread = 0.35): { X: Float32Array[]; y: number[] } {
  const rand = mulberry32(seed);
  const D = 8;
  const X: Float32Array[] = [];
  const y: number[] = [];
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < perClass; i++) {
      const v = new Float32Array(D);
      for (let j = 0; j < D; j++) v[j] = (j === c ? 1 : 0) + spread * (rand() - 0.5);
      const n = Math.hypot(...v);
      for (let j = 0; j < D; j++) v[j]! /= n;
      X.push(v);
      y.push(c);
    }
  return { X, y };
}

/** toy headlines: words of the class; vectors: the class centre; `wrongText` rows carry another class's words */
function toyData(perClass = 30): { ds: Dataset; vectors: Float32Array[] } {
  const words = [
    ['apple', 'banana', 'cherry', 'grape'],
    ['hammer', 'wrench', 'drill', 'saw'],
    ['violin', 'trumpet', 'drum', 'flute'],
  ];
  const labels = ['fruit', 'tools', 'music'];
  const { X, y } = clusters(perClass);
  const rand = mulberry32(3);
  const examples = y.map((c, i) => ({
    title: `the ${words[c]![Math.floor(rand() * 4)]} and a ${words[c]![Math.floor(rand() * 4)]} ${i}`,
    label: labels[c]!,
  }));
  return { ds: { format: 'csv', path: 'toy.csv', labels, examples }, vectors: X };
}

describe('L-BFGS', () => {
  it('finds the minimum of a convex quadratic', () => {
    const target = [3, -2, 0.5, 7];
    const scale = [1, 10, 100, 0.1];
    const r = lbfgs(
      (x, g) => {
        let f = 0;
        for (let i = 0; i < 4; i++) {
          const d = x[i]! - target[i]!;
          f += 0.5 * scale[i]! * d * d;
          g[i] = scale[i]! * d;
        }
        return f;
      },
      new Float64Array(4),
      { gradTol: 1e-9, relTol: 0 },
    );
    for (let i = 0; i < 4; i++) expect(r.x[i]).toBeCloseTo(target[i]!, 5);
  });
});

describe('embedding head', () => {
  it('learns separable clusters, deterministically, with probabilities that sum to 1', () => {
    const { X, y } = clusters(40);
    const h = trainEmbeddingHead(X, y, 3);
    const h2 = trainEmbeddingHead(X, y, 3);
    expect(Array.from(h.w)).toEqual(Array.from(h2.w));
    const test = clusters(20, 99);
    let ok = 0;
    test.X.forEach((v, i) => {
      const p = headProbabilities(h, v);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      if (p.indexOf(Math.max(...p)) === test.y[i]) ok++;
    });
    expect(ok / test.X.length).toBeGreaterThan(0.95);
  });

  it('standardises: a constant dimension gets no weight and does not break training', () => {
    const { X, y } = clusters(20);
    for (const v of X) v[7] = 0.25;
    const h = trainEmbeddingHead(X, y, 3);
    expect(h.invStd[7]).toBe(0);
    expect(Number.isFinite(h.b[0]!)).toBe(true);
  });

  it('class weights move the decision toward the weighted class', () => {
    const { X, y } = clusters(30, 7, 1.6);
    const plain = trainEmbeddingHead(X, y, 3);
    const heavy = trainEmbeddingHead(X, y, 3, { classWeights: [10, 1, 1] });
    const count0 = (h: typeof plain) => X.filter((v) => argmaxOf(headProbabilities(h, v)) === 0).length;
    expect(count0(heavy)).toBeGreaterThan(count0(plain));
  });
});

const argmaxOf = (p: ArrayLike<number>) => Array.from(p).indexOf(Math.max(...Array.from(p)));

describe('kNN voter', () => {
  it('votes the class of the nearest rows, through usearch exact search', () => {
    const { X, y } = clusters(20);
    const knn = KnnVoter.fromRows(X, y, 3, { k: 5 });
    const q = clusters(5, 123);
    const p = knn.probabilities(q.X);
    p.forEach((d, i) => {
      expect(argmaxOf(d)).toBe(q.y[i]);
      expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      expect(Math.min(...d)).toBeGreaterThan(0); // smoothing: every log-probability finite
    });
    expect(knn.probabilities([X[0]!])).toHaveLength(1);
  });
});

describe('fusion', () => {
  it('is a weighted geometric mean: weight 1 on one member returns that member (T = 1)', () => {
    const a = Float64Array.from([0.7, 0.2, 0.1]);
    const b = Float64Array.from([0.1, 0.1, 0.8]);
    const p = fuse([a, b], { weights: [1, 0], temperature: 1 });
    for (let c = 0; c < 3; c++) expect(p[c]).toBeCloseTo(a[c]!, 9);
    const hot = fuse([a, b], { weights: [1, 0], temperature: 2 });
    expect(hot[0]).toBeLessThan(0.7); // T > 1 softens
  });

  it('the simplex grid covers every weighting in tenths', () => {
    const g = simplexGrid(3);
    expect(g).toHaveLength(66);
    for (const w of g) expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
  });

  it('chooses the weights by out-of-fold macro-F1 and the temperature by log-loss', () => {
    // member 0 is right on every row, member 1 always wrong: the chosen fusion follows member 0
    const n = 60;
    const y = Array.from({ length: n }, (_, i) => i % 3);
    const good = y.map((c) => Float64Array.from([0, 1, 2].map((k) => (k === c ? 0.6 : 0.2))));
    const bad = y.map((c) => Float64Array.from([0, 1, 2].map((k) => (k === (c + 1) % 3 ? 0.9 : 0.05))));
    const ch = chooseFusion([good, bad], y, ['a', 'b', 'c']);
    expect(ch.macroF1).toBe(1);
    for (let i = 0; i < n; i++) expect(argmaxOf(fuse([good[i]!, bad[i]!], ch))).toBe(y[i]);
    // always right at 0.6 confidence: a sharper member temperature lowers its log-loss
    expect(ch.memberTemperatures![0]).toBeLessThan(1);
    expect(ch.temperature).toBeGreaterThan(0);
  });
});

describe('fused artifact and training', () => {
  const dir = mkdtempSync(join(tmpdir(), 'feedlog-fused-'));
  const { ds, vectors } = toyData();
  const rows = ds.examples.map((_, i) => i);
  const trained = trainFused(ds, { rows, vectors, embeddingModel: 'toy-8d', seed: 1 });

  it('trains the three members, chooses a fusion, and predicts the training classes', () => {
    const m = trained.model;
    const w = m.header.fusion.weights;
    expect(w).toHaveLength(3);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(m.header.embedding).toEqual({ model: 'toy-8d', dims: 8 });
    const p = m.predictWithVectors(
      ds.examples.map((e) => e.title),
      vectors,
    );
    const acc = p.filter((q, i) => q.category === ds.examples[i]!.label).length / p.length;
    expect(acc).toBeGreaterThan(0.95);
  });

  it('returns the inner out-of-fold distributions the fusion was chosen on (each row scored once, by a fold without it)', () => {
    const { oof } = trained;
    expect(oof.rows).toEqual(rows);
    expect(oof.members).toHaveLength(3);
    for (const m of oof.members) {
      expect(m).toHaveLength(rows.length);
      for (const p of m) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    }
    const tested = oof.folds.flatMap((f) => f.test).sort((a, b) => a - b);
    expect(tested).toEqual(rows);
    for (const f of oof.folds) for (const i of f.test) expect(f.train).not.toContain(i);
    // member 2 is the kNN of each inner fold's training rows (deterministic): recomputed, it matches
    const li = new Map(ds.labels.map((l, i) => [l, i]));
    const pos = new Map(rows.map((r, j) => [r, j]));
    for (const f of oof.folds) {
      const knn = KnnVoter.fromRows(
        f.train.map((i) => vectors[i]!),
        f.train.map((i) => li.get(ds.examples[i]!.label)!),
        ds.labels.length,
        { k: trained.model.header.knn.k },
      );
      const kp = knn.probabilities(f.test.map((i) => vectors[i]!));
      f.test.forEach((i, t) => {
        expect(oof.members[2]![pos.get(i)!]).toEqual(kp[t]);
        expect(oof.y[pos.get(i)!]).toBe(li.get(ds.examples[i]!.label));
      });
    }
    // the same choice again from what is returned: the fusion was chosen on exactly these
    const again = chooseFusion(oof.members, oof.y, ds.labels);
    expect(again.weights).toEqual(trained.choice.weights);
    expect(again.temperature).toBe(trained.choice.temperature);
  });

  it('round-trips: same version and same predictions after save and load (either loader)', () => {
    const path = join(dir, 'toy.flcf');
    saveFused(path, trained.bytes);
    const back = loadAnyClassifyModel(path);
    expect(isFused(back)).toBe(true);
    if (!isFused(back)) return;
    expect(back.version).toBe(trained.model.version);
    const texts = ds.examples.slice(0, 10).map((e) => e.title);
    expect(back.predictWithVectors(texts, vectors.slice(0, 10))).toEqual(
      trained.model.predictWithVectors(texts, vectors.slice(0, 10)),
    );
    // the n-gram artifact still loads through the same function
    const ng = join(dir, 'toy.flcm');
    writeModel(ng, trainClassifier(ds, { holdout: 0, candidates: [{ method: 'nbsvm' }], measureSpeed: false }));
    expect(isFused(loadAnyClassifyModel(ng))).toBe(false);
  });

  it('refuses corrupt and truncated files with a coded error', () => {
    const bytes = Buffer.from(trained.bytes);
    bytes[bytes.length - 10]! ^= 0xff;
    expect(() => decodeFused(bytes)).toThrow(ModelArtifactError);
    try {
      decodeFused(bytes);
    } catch (e) {
      expect((e as ModelArtifactError).code).toBe('CHECKSUM');
    }
    const cut = join(dir, 'cut.flcf');
    writeFileSync(cut, trained.bytes.subarray(0, trained.bytes.length - 100));
    expect(() => loadAnyClassifyModel(cut)).toThrow(/TRUNCATED|expected/);
    expect(() => loadAnyClassifyModel(join(dir, 'missing.flcf'))).toThrow(ModelArtifactError);
    expect(readFileSync(join(dir, 'toy.flcf')).subarray(0, 8).toString('latin1')).toBe('FLCFUS1\n');
  });

  it('the fusion is chosen on rows the members never saw (out of fold), not on their training rows', () => {
    // a kNN member scoring its own training rows would be perfect (each row its own neighbour);
    // out of fold, rows whose vector points at another class are wrong for kNN and the head
    const noisy = toyData(30);
    const vs = noisy.vectors.map((v, i) => (i % 5 === 0 ? noisy.vectors[(i + 30) % 90]! : v));
    const r = trainFused(noisy.ds, { rows, vectors: vs, embeddingModel: 'toy-8d', seed: 1 });
    expect(r.choice.accuracy).toBeLessThan(1.0001);
    expect(r.choice.weights[0]).toBeGreaterThan(0); // the words (always right here) keep weight
  });
});
