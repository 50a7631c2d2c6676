// Held-out quality on the real data sets in ../shared/data (skipped, visibly, when they are absent).
// Floors are a few points below what bench/classify.ts measured with the same split and seed.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FAST_CHARS, loadDataset, trainClassifier } from '../src/index.ts';

// ../shared/data beside the repository (as on CI), or FEEDLOG_SHARED_DATA.
const DATA_ROOT = process.env.FEEDLOG_SHARED_DATA ?? fileURLToPath(new URL('../../../../shared/data', import.meta.url));
const ag = `${DATA_ROOT}/ag_news/ag_news-dev.csv`;
const uci = `${DATA_ROOT}/uci/stories-dev.csv`;

for (const [file, what] of [
  [ag, 'AG News'],
  [uci, 'UCI'],
] as const) {
  if (!existsSync(file)) console.warn(`SKIPPED: ${what} quality test: ${file} not found (set FEEDLOG_SHARED_DATA)`);
}

// The default recipe of `train classify` on AG News (NB-SVM, word uni+bi + char 3-5-grams, sqrt-length counts).
const recipe = [{ method: 'nbsvm' as const, features: FAST_CHARS, params: { lr: 2 } }];

describe.skipIf(!existsSync(ag))('AG News held-out quality (stratified 80/20, seed 42)', () => {
  it('accuracy and macro-F1 stay above the measured floor', () => {
    const r = trainClassifier(loadDataset(ag), {
      seed: 42,
      holdout: 0.2,
      candidates: recipe,
      refit: false,
      measureSpeed: false,
    });
    expect(r.split.test).toBeGreaterThan(1000);
    // measured 88.08% / 88.03% (title + description), 80.43% title only
    expect(r.holdout!.full.accuracy).toBeGreaterThan(0.85);
    expect(r.holdout!.full.macroF1).toBeGreaterThan(0.85);
    expect(r.holdout!.titleOnly!.accuracy).toBeGreaterThan(0.77);
  });
});

describe.skipIf(!existsSync(uci))('UCI held-out quality (split by STORY, seed 42)', () => {
  it('accuracy on held-out stories stays above the measured floor', () => {
    const ds = loadDataset(uci);
    const r = trainClassifier(ds, { seed: 42, holdout: 0.25, candidates: recipe, refit: false, measureSpeed: false });
    expect(r.split.kind).toMatch(/group/);
    // measured 55.0% (1044 test rows from held-out stories; health has a single story, so it is never held out)
    expect(r.holdout!.full.accuracy).toBeGreaterThan(0.5);
  });
});
