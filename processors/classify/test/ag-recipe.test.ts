import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Candidate,
  type Dataset,
  DEFAULT_CANDIDATES,
  FAST_CHARS,
  Featurizer,
  loadModel,
  NBSVM_CHARS_2_5,
  resolveCandidate,
  trainClassifier,
  writeModel,
} from '../src/index.ts';

/** the AG News pick before issue 16's search: char 3-5-grams, lr 2 */
const PREVIOUS: Candidate = { method: 'nbsvm', features: FAST_CHARS, params: { lr: 2 } };

/** three classes told apart by word pieces: the same stems with other endings must still classify */
function data(): Dataset {
  const stems: Record<string, string[]> = {
    markets: ['stockholders', 'dividends', 'earnings', 'tradeoffs', 'mergers'],
    sport: ['goalkeepers', 'playoffs', 'strikers', 'touchdowns', 'innings'],
    science: ['genomes', 'telescopes', 'molecules', 'satellites', 'microchips'],
  };
  const examples = [];
  for (const [label, words] of Object.entries(stems)) {
    for (let i = 0; i < 30; i++) {
      const a = words[i % words.length]!;
      const b = words[(i * 3 + 1) % words.length]!;
      examples.push({ title: `the ${a} and ${b} today`, summary: `report ${i} on ${b}`, label });
    }
  }
  return { format: 'csv', path: 'pieces.csv', labels: Object.keys(stems), examples };
}

const train = (c: Candidate) =>
  trainClassifier(data(), {
    holdout: 0,
    measureSpeed: false,
    candidates: [{ ...c, features: { ...c.features, bits: 16 } }],
  });

describe('the n-gram recipe chosen for AG News (issue 16)', () => {
  it('is the first default candidate: NB-SVM on word 1-2-grams + char 2-5-grams, lr 1', () => {
    expect(DEFAULT_CANDIDATES[0]).toBe(NBSVM_CHARS_2_5);
    const { features, params } = resolveCandidate(NBSVM_CHARS_2_5, 42);
    expect(features).toMatchObject({ unigrams: 1, bigrams: 1, chars: 0.5, charMin: 2, charMax: 5, sqrtLen: true });
    expect(params).toMatchObject({ method: 'nbsvm', lr: 1 });
  });

  it('char 2-grams add features that char 3-grams miss', () => {
    const two = new Featurizer(resolveCandidate(NBSVM_CHARS_2_5, 1).features).transform('ox on');
    const three = new Featurizer(resolveCandidate(PREVIOUS, 1).features).transform('ox on');
    // <ox> → <o ox x> (2) + <ox ox> (3) ...; with charMin 3 the bigrams are absent
    expect(two.idx.length).toBeGreaterThan(three.idx.length);
  });

  it('the version covers the recipe; old-recipe artifacts still load and predict as trained', () => {
    const dir = mkdtempSync(join(tmpdir(), 'feedlog-ag-recipe-'));
    const now = train(NBSVM_CHARS_2_5);
    const before = train(PREVIOUS);
    expect(now.header.version).not.toBe(before.header.version);
    expect(now.header.features.charMin).toBe(2);
    expect(before.header.features.charMin).toBe(3);
    for (const [name, r] of [
      ['now', now],
      ['before', before],
    ] as const) {
      const path = join(dir, `${name}.flcm`);
      writeModel(path, r);
      const m = loadModel(path);
      expect(m.version).toBe(r.header.version);
      for (const t of ['mergers and dividends', 'the strikers today', 'telescopes', 'unknown words']) {
        expect(m.probabilities(t)).toEqual(r.model.probabilities(t));
        // the per-word score cache (the stage's path) agrees with featurising
        const u = m.uncachedProbabilities(t);
        for (const [c, p] of m.probabilities(t).entries()) expect(p).toBeCloseTo(u[c]!, 5);
      }
    }
    // word pieces generalise: unseen inflections of the stems
    expect(now.model.predictOne('a goalkeeper and a striker').category).toBe('sport');
    expect(now.model.predictOne('one genome, one molecule').category).toBe('science');
  });
});
