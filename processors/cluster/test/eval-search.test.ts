import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EmbeddingClient } from '@feedlog/embed';
import { describe, expect, it } from 'vitest';
import { evaluateSearch, loadSearchSet } from '../src/eval-search.ts';

const dir = mkdtempSync(join(tmpdir(), 'feedlog-eval-search-'));
const sts = join(dir, 'pairs.tsv');
writeFileSync(
  sts,
  [
    'split\tyear\tsid\tscore\tsentence1\tsentence2',
    'train\t2013\t1\t4.6\tfed raises rates\tfed lifts rates',
    'train\t2013\t2\t1.0\tcat on mat\tstocks fall',
    'train\t2013\t3\t4.2\tquake hits japan\tjapan earthquake',
  ].join('\n'),
);

/** vectors by the first letter of each word: enough to make 'fed …' near 'fed …' */
const stub = {
  settings: { model: 'stub' },
  async embed(texts: string[]) {
    return {
      results: texts.map((t) => {
        const v = new Float32Array(26);
        for (const w of t.split(' ')) v[w.charCodeAt(0) - 97]! += 1;
        return { vector: v, normalized: false };
      }),
    };
  },
} as unknown as EmbeddingClient;

describe('eval search (issue 16)', () => {
  it('reads STS pairs: queries are the pairs at or above the score, the corpus every sentence2', () => {
    const s = loadSearchSet(sts, 4);
    expect(s.format).toBe('sts-pairs');
    expect(s.queries).toEqual(['fed raises rates', 'quake hits japan']);
    expect(s.corpus).toHaveLength(3);
    expect(s.relevant).toEqual([[0], [2]]);
  });

  it('scores recall@k and MRR from the ranking', async () => {
    const r = await evaluateSearch(loadSearchSet(sts, 4), stub, 1);
    expect(r.queries).toBe(2);
    // 'fed raises rates' → 'fed lifts rates' first; 'quake hits japan' shares only j with 'japan earthquake'
    expect(r.recallAtK).toBeGreaterThanOrEqual(0.5);
    expect(r.mrr).toBeGreaterThan(0.5);
    expect(r.mrr).toBeLessThanOrEqual(1);
  });

  it('refuses a file in neither format with a clear message', () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'a,b\n1,2\n');
    expect(() => loadSearchSet(bad)).toThrow(/not an STS headline-pairs TSV/);
  });
});
