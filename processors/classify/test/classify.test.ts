import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ClassifyInputError,
  classifyBatch,
  type Dataset,
  DEFAULT_FEATURES,
  decodeArtifact,
  encodeArtifact,
  ensureDefaultModel,
  Featurizer,
  groupSplit,
  kFolds,
  loadDataset,
  loadModel,
  METHODS,
  ModelArtifactError,
  modelFromBytes,
  registerClassifyCommands,
  trainClassifier,
  writeModel,
} from '../src/index.ts';
import { AsciiWordTable, HU, S0, SQ } from '../src/word-table.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'feedlog-classify-'));

/** Toy data: each class has its own vocabulary plus shared filler words. Linearly separable. */
function toyDataset(seed = 1, perClass = 40): Dataset {
  const vocab: Record<string, string[]> = {
    alpha: ['apple', 'banana', 'cherry', 'grape', 'melon', 'peach'],
    beta: ['hammer', 'wrench', 'drill', 'saw', 'chisel', 'pliers'],
    gamma: ['violin', 'trumpet', 'drum', 'flute', 'cello', 'harp'],
  };
  const filler = ['the', 'a', 'new', 'big', 'old', 'with'];
  let s = seed;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const pick = (a: string[]) => a[Math.floor(rnd() * a.length)]!;
  const examples = [];
  for (const [label, words] of Object.entries(vocab)) {
    for (let i = 0; i < perClass; i++) {
      examples.push({ title: `${pick(filler)} ${pick(words)} ${pick(filler)} ${pick(words)} ${pick(filler)}`, label });
    }
  }
  return { format: 'csv', path: 'toy.csv', labels: Object.keys(vocab), examples };
}

describe('featuriser', () => {
  it('is deterministic, L2-normalised, and separates different texts', () => {
    const f = new Featurizer({ ...DEFAULT_FEATURES, chars: 0.5, bits: 16 });
    const a = f.transform('Stocks rally as the Fed holds rates');
    const b = f.transform('Stocks rally as the Fed holds rates');
    const c = f.transform('Pop star announces a world tour');
    expect(Array.from(a.idx)).toEqual(Array.from(b.idx));
    expect(Array.from(a.val)).toEqual(Array.from(b.val));
    const norm = Math.sqrt(Array.from(a.val).reduce((s, v) => s + v * v, 0));
    expect(norm).toBeCloseTo(1, 5);
    expect(new Set(a.idx).size).toBe(a.idx.length);
    expect(Array.from(a.idx).filter((i) => c.idx.includes(i)).length).toBeLessThan(a.idx.length / 4);
    for (const i of a.idx) expect(i).toBeLessThan(1 << 16);
  });

  it('counts repeated words once per bucket with log tf', () => {
    const f = new Featurizer({ ...DEFAULT_FEATURES, bigrams: 0, l2: false, tf: 'log' });
    const x = f.transform('news news news');
    expect(x.idx.length).toBe(1);
    expect(x.val[0]).toBeCloseTo(1 + Math.log(3), 5);
  });

  it('rejects an invalid config', () => {
    expect(() => new Featurizer({ ...DEFAULT_FEATURES, bits: 40 })).toThrow(RangeError);
  });
});

describe('trainers', () => {
  for (const method of METHODS) {
    it(`${method} learns a separable toy set and generalises to unseen rows`, () => {
      const train = toyDataset(1);
      const test = toyDataset(99, 20);
      const r = trainClassifier(train, {
        holdout: 0,
        candidates: [{ method, features: { bits: 14 }, params: { epochs: 15 } }],
        measureSpeed: false,
      });
      const preds = r.model.predict(test.examples.map((e) => e.title));
      const correct = preds.filter((p, i) => p.category === test.examples[i]!.label).length;
      expect(correct / test.examples.length).toBeGreaterThanOrEqual(0.95);
      for (const p of preds) {
        expect(p.confidence).toBeGreaterThan(1 / 3);
        expect(p.confidence).toBeLessThanOrEqual(1);
      }
    });
  }

  it('training is deterministic for a seed and changes with the seed', () => {
    const ds = toyDataset(3);
    const opts = {
      holdout: 0,
      measureSpeed: false,
      candidates: [{ method: 'softmax' as const, features: { bits: 14 } }],
    };
    const a = trainClassifier(ds, { ...opts, seed: 5 });
    const b = trainClassifier(ds, { ...opts, seed: 5 });
    const c = trainClassifier(ds, { ...opts, seed: 6 });
    expect(a.header.version).toBe(b.header.version);
    expect(Array.from(a.weights.w)).toEqual(Array.from(b.weights.w));
    expect(c.header.version).not.toBe(a.header.version);
  });

  it('model selection by cross-validation picks the best candidate and reports a hold-out', () => {
    const ds = toyDataset(4, 60);
    const r = trainClassifier(ds, {
      holdout: 0.25,
      measureSpeed: false,
      candidates: [
        // A hopeless candidate: zero epochs of SGD leaves the weights at zero.
        { method: 'softmax', features: { bits: 14 }, params: { epochs: 0 } },
        { method: 'nbsvm', features: { bits: 14 } },
      ],
    });
    expect(r.selection).toHaveLength(2);
    expect(r.chosen.method).toBe('nbsvm');
    expect(r.holdout?.full.accuracy).toBeGreaterThan(0.9);
    expect(r.header.metrics.holdout?.n).toBe(r.split.test);
    expect(r.header.training.trainedOnRows).toBe(ds.examples.length);
  });
});

describe('artifact', () => {
  const trained = () =>
    trainClassifier(toyDataset(2), {
      holdout: 0,
      measureSpeed: false,
      candidates: [{ method: 'nbsvm', features: { bits: 14, chars: 0.5 } }],
    });

  it('round-trips through a file with identical predictions and version', () => {
    const r = trained();
    const path = join(tmp(), 'm.flcm');
    const h = writeModel(path, r);
    const m = loadModel(path);
    expect(m.version).toBe(h.version);
    expect(m.version).toBe(r.header.version);
    expect(m.labels).toEqual(r.model.labels);
    const texts = ['the apple with a drill', 'old harp new cello', 'saw saw saw', 'unknown words only', ''];
    for (const t of texts) expect(m.probabilities(t)).toEqual(r.model.probabilities(t));
  });

  it('the per-word score cache gives the same probabilities as the featuriser path', () => {
    const r = trainClassifier(toyDataset(6), {
      holdout: 0,
      measureSpeed: false,
      candidates: [{ method: 'nbsvm', features: { bits: 14, chars: 0.5, tf: 'count', l2: false, sqrtLen: true } }],
    });
    expect(r.model.cached).toBe(true);
    const texts = ['the apple with a drill', 'Old HARP, new cello!', 'saw saw saw saw', 'zzz unknown', ''];
    for (const t of [...texts, ...texts]) {
      const a = r.model.probabilities(t);
      const b = r.model.uncachedProbabilities(t);
      for (let c = 0; c < a.length; c++) expect(a[c]).toBeCloseTo(b[c]!, 5);
    }
    expect(r.model.predictOne('a peach and a melon').category).toBe('alpha');
  });

  it('the ASCII word table gives exactly the probabilities of the general cached path', () => {
    const r = trainClassifier(toyDataset(6), {
      holdout: 0,
      measureSpeed: false,
      candidates: [{ method: 'nbsvm', features: { bits: 14, chars: 0.5, tf: 'count', l2: false, sqrtLen: true } }],
    });
    const texts = [
      'the apple with a drill',
      'Old HARP, new cello!',
      '  --saw saw2 SAW 3saw--  ',
      "it's a 10-inch drill: APPLE's",
      'x',
      '...',
      '',
    ];
    // an em dash is neither a letter nor a digit: the same words, but the text is not ASCII, so it
    // takes the general path (toLowerCase + WORD_RE + the Map cache)
    for (const t of [...texts, ...texts]) {
      const ascii = r.model.probabilities(t);
      expect(r.model.probabilities(`${t} \u2014`)).toEqual(ascii);
      const b = r.model.uncachedProbabilities(t);
      for (let c = 0; c < ascii.length; c++) expect(ascii[c]).toBeCloseTo(b[c]!, 5);
    }
    // a non-ASCII word mid-text: the general path from the start, same as the featuriser
    const mixed = r.model.probabilities('apple Ünïcode drill');
    const ref = r.model.uncachedProbabilities('apple Ünïcode drill');
    for (let c = 0; c < mixed.length; c++) expect(mixed[c]).toBeCloseTo(ref[c]!, 5);
  });

  it('AsciiWordTable finds what it was given and empties itself when half full', () => {
    const t = new AsciiWordTable(2, 2); // 4 slots: emptied at the third claim
    const a = t.claim(t.find(1, 2, 3), 1, 2, 3);
    expect(t.find(1, 2, 3)).toBe(a);
    expect(t.find(1, 2, 4)).toBeLessThan(0); // same hashes, other length
    expect(t.find(1, 3, 3)).toBeLessThan(0);
    const b = t.claim(t.find(5, 6, 1), 5, 6, 1);
    expect(b).not.toBe(a);
    expect(t.find(5, 6, 1)).toBe(b);
    const c = t.claim(t.find(7, 8, 2), 7, 8, 2);
    expect(t.find(7, 8, 2)).toBe(c);
    expect(t.find(1, 2, 3)).toBeLessThan(0);
    expect(t.find(5, 6, 1)).toBeLessThan(0);
  });

  it("AsciiWordTable's slot records do not overlap, whatever the number of classes", () => {
    for (const C of [1, 2, 4, 5, 6, 12, 41]) {
      const t = new AsciiWordTable(C, 3);
      expect((t.stride64 * 8) % 64).toBe(0); // whole cache lines
      const slots = [1, 2, 3].map((k) => t.claim(t.find(k, k + 10, k), k, k + 10, k));
      // fill every double of each slot record with its slot number (keys live in the same bytes' first 16)
      for (const sl of slots) {
        t.f64[sl * t.stride64 + SQ] = sl;
        for (let c = 0; c < C; c++) t.f64[sl * t.stride64 + S0 + c] = sl + c / 100;
        t.i32[sl * t.stride32 + HU] = -sl;
      }
      for (const [k, sl] of slots.entries()) {
        expect(t.find(k + 1, k + 11, k + 1)).toBe(sl);
        expect(t.i32[sl * t.stride32 + HU]).toBe(-sl);
        expect(t.f64[sl * t.stride64 + SQ]).toBe(sl);
        for (let c = 0; c < C; c++) expect(t.f64[sl * t.stride64 + S0 + c]).toBe(sl + c / 100);
      }
    }
  });

  it('version changes when one weight changes, and when labels change', () => {
    const r = trained();
    const { version: _v, weights: _w, format: _f, formatVersion: _fv, ...input } = r.header;
    const base = encodeArtifact(input, r.weights).header.version;
    const w2 = { ...r.weights, w: r.weights.w.slice() };
    const j = w2.w.findIndex((x) => x !== 0);
    w2.w[j] = w2.w[j]! * 1.001;
    expect(encodeArtifact(input, w2).header.version).not.toBe(base);
    expect(encodeArtifact({ ...input, labels: ['x', 'y', 'z'] }, r.weights).header.version).not.toBe(base);
    // Metadata that does not change predictions does not change the version.
    expect(encodeArtifact({ ...input, createdAt: '2000-01-01T00:00:00Z' }, r.weights).header.version).toBe(base);
  });

  it('rejects bad artifacts with a typed error', () => {
    const r = trained();
    const { version: _v, weights: _w, format: _f, formatVersion: _fv, ...input } = r.header;
    const { bytes } = encodeArtifact(input, r.weights);
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ModelArtifactError);
        expect((e as ModelArtifactError).retriable).toBe(false);
        return (e as ModelArtifactError).code;
      }
      return 'no error';
    };
    expect(code(() => decodeArtifact(Buffer.from('{"not":"a model"}')))).toBe('BAD_MAGIC');
    expect(code(() => decodeArtifact(bytes.subarray(0, bytes.length - 10)))).toBe('TRUNCATED');
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 7]! ^= 0xff;
    expect(code(() => decodeArtifact(flipped))).toBe('CHECKSUM');
    // Editing the header (here: renaming a label) breaks the content hash.
    const edited = Buffer.from(bytes.toString('latin1').replace('"alpha"', '"omega"'), 'latin1');
    expect(code(() => decodeArtifact(edited))).toBe('CHECKSUM');
    const badJson = Buffer.from(bytes);
    badJson[12] = 0x7e;
    expect(code(() => decodeArtifact(badJson))).toBe('BAD_HEADER');
    expect(code(() => loadModel(join(tmp(), 'missing.flcm')))).toBe('NOT_FOUND');
    expect(modelFromBytes(bytes).version).toBe(r.header.version);
  });
});

describe('classifyBatch', () => {
  it('classifies each record, tags the model, and rejects records without text', () => {
    const r = trainClassifier(toyDataset(5), {
      holdout: 0,
      measureSpeed: false,
      candidates: [{ method: 'softmax', features: { bits: 14 } }],
    });
    const out = classifyBatch(r.model, [
      { title: 'a new melon' },
      { title: null },
      { title: 'the', summary: 'old drum and a flute' },
      { title: '   ', summary: null },
    ]);
    expect(out).toHaveLength(4);
    expect(out[0]).toMatchObject({
      ok: true,
      category: 'alpha',
      modelName: r.header.name,
      modelVersion: r.header.version,
    });
    expect(out[1]!.ok).toBe(false);
    expect(out[1]!.ok === false && out[1]!.error).toBeInstanceOf(ClassifyInputError);
    expect(out[2]).toMatchObject({ ok: true, category: 'gamma' });
    expect(out[3]!.ok).toBe(false);
  });
});

describe('default model', () => {
  it('trains from the bundled fixture, is reused, is deterministic, and is rebuilt when corrupt', () => {
    const dir = tmp();
    const m = ensureDefaultModel(dir);
    expect(m.labels).toEqual(['business', 'entertainment', 'health', 'science-tech']);
    // Headlines written for this test, not in the fixture.
    const cases: [string, string][] = [
      ['Shares fall as the central bank raises rates', 'business'],
      ['Singer announces a new album and tour', 'entertainment'],
      ['Study finds exercise lowers risk of heart disease', 'health'],
      ['New smartphone app fixes security bug', 'science-tech'],
    ];
    const preds = m.predict(cases.map((c) => c[0]));
    expect(preds.map((p) => p.category)).toEqual(cases.map((c) => c[1]));
    const again = ensureDefaultModel(dir);
    expect(again.version).toBe(m.version);
    const other = ensureDefaultModel(tmp());
    expect(other.version).toBe(m.version);
    writeFileSync(join(dir, 'classify-default.flcm'), 'garbage');
    const rebuilt = ensureDefaultModel(dir);
    expect(rebuilt.version).toBe(m.version);
  });
});

describe('data loaders and splits', () => {
  it('parses AG News, UCI, HuffPost and generic csv files', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'classes.txt'), 'World\nSports\nBusiness\nSci/Tech\n');
    writeFileSync(
      join(dir, 'ag.csv'),
      '"3","Firm, Inc. posts ""record"" profit","Profits rose; analysts cheered"\n"2","Team wins cup","In extra time"\n',
    );
    const ag = loadDataset(join(dir, 'ag.csv'));
    expect(ag.format).toBe('agnews');
    expect(ag.examples[0]).toEqual({
      title: 'Firm, Inc. posts "record" profit',
      summary: 'Profits rose; analysts cheered',
      label: 'Business',
    });
    expect(ag.labels).toEqual(['Sports', 'Business']);

    writeFileSync(
      join(dir, 'uci.csv'),
      'ID,TITLE,URL,PUBLISHER,CATEGORY,STORY,HOSTNAME,TIMESTAMP\n1,"Fed, again",http://x,P,b,s1,x,1\n2,Flu shot,http://y,Q,m,s2,y,2\n',
    );
    const uci = loadDataset(join(dir, 'uci.csv'));
    expect(uci.format).toBe('uci');
    expect(uci.examples).toEqual([
      { title: 'Fed, again', label: 'business', group: 's1' },
      { title: 'Flu shot', label: 'health', group: 's2' },
    ]);

    writeFileSync(
      join(dir, 'hp.jsonl'),
      '{"headline":"A","category":"POLITICS","short_description":"d"}\n\n{"headline":"B","category":"SPORTS"}\n',
    );
    const hp = loadDataset(join(dir, 'hp.jsonl'));
    expect(hp.examples.map((e) => e.label)).toEqual(['POLITICS', 'SPORTS']);
    writeFileSync(join(dir, 'bad.jsonl'), '{"headline":"A"}\n');
    expect(() => loadDataset(join(dir, 'bad.jsonl'))).toThrow(/category/);

    writeFileSync(join(dir, 'g.csv'), 'Category,Headline,Summary\nx,one,s\ny,two,\n');
    const g = loadDataset(join(dir, 'g.csv'), 'csv');
    expect(g.examples).toEqual([
      { title: 'one', label: 'x', summary: 's' },
      { title: 'two', label: 'y' },
    ]);
  });

  it('group split and group folds never put one story on both sides', () => {
    const labels: number[] = [];
    const groups: string[] = [];
    for (let g = 0; g < 30; g++) {
      for (let k = 0; k <= g % 7; k++) {
        labels.push(g % 4);
        groups.push(`s${g}`);
      }
    }
    const sp = groupSplit(labels, groups, 0.25, 1);
    const trainG = new Set(sp.train.map((i) => groups[i]));
    expect(sp.test.length).toBeGreaterThan(0);
    for (const i of sp.test) expect(trainG.has(groups[i])).toBe(false);
    expect(sp.train.length + sp.test.length).toBe(labels.length);
    for (const f of kFolds(sp.train, 3, 2, groups, labels)) {
      const tg = new Set(f.train.map((i) => groups[i]));
      for (const i of f.test) expect(tg.has(groups[i])).toBe(false);
      // Stratified: every fold is tested on, and trained on, all four labels.
      expect(new Set(f.test.map((i) => labels[i])).size).toBe(4);
      expect(new Set(f.train.map((i) => labels[i])).size).toBe(4);
    }
  });
});

describe('train classify command', () => {
  afterEach(() => vi.restoreAllMocks());

  it('trains from a file, writes the artifact and prints JSON metrics', async () => {
    const dir = tmp();
    const data = join(dir, 'toy.csv');
    const ds = toyDataset(8, 30);
    writeFileSync(data, `label,title\n${ds.examples.map((e) => `${e.label},${e.title}`).join('\n')}\n`);
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const program = new Command('feedlog').exitOverride();
    registerClassifyCommands(program);
    const artifact = join(dir, 'model.flcm');
    await program.parseAsync(['train', 'classify', '--data', data, '--out', artifact, '--seed', '3', '--json'], {
      from: 'user',
    });
    const res = JSON.parse(out.join('')) as { header: { version: string; metrics: { holdout: { accuracy: number } } } };
    expect(res.header.version).toBe(loadModel(artifact).version);
    expect(res.header.metrics.holdout.accuracy).toBeGreaterThan(0.9);
    expect(readFileSync(artifact).subarray(0, 8).toString('latin1')).toBe('FLCLSM1\n');
  });
});
