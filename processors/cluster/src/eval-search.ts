import { readFileSync } from 'node:fs';
import type { EmbeddingClient } from '@feedlog/embed';
import { parse } from 'csv-parse/sync';
import { parseUciCsv } from './dataset.ts';

/**
 * A search relevance set: queries, a corpus, and for each query the corpus rows that are relevant.
 * Two documented formats:
 * - STS-B headline pairs (TSV `split year sid score sentence1 sentence2`): a query is sentence1 of a
 *   pair scored ≥ `minScore` (default 4: "same event"), the corpus every distinct sentence2, the
 *   relevant row its own sentence2.
 * - UCI News Aggregator CSV (`ID,TITLE,…,STORY,…,TIMESTAMP`): every headline queries all the others;
 *   relevant = the other headlines of its story.
 */
export interface SearchSet {
  format: 'sts-pairs' | 'uci-stories';
  queries: string[];
  corpus: string[];
  /** per query, relevant corpus rows */
  relevant: number[][];
  /** per query, a corpus row to leave out of its ranking (the query itself), or -1 */
  self: number[];
}

export function loadSearchSet(path: string, minScore = 4): SearchSet {
  const text = readFileSync(path, 'utf8');
  const header = text.slice(0, text.indexOf('\n'));
  if (header.includes('\t') && header.includes('sentence1')) {
    const rows = parse(text, { columns: true, delimiter: '\t', relax_quotes: true, quote: false }) as Record<
      string,
      string
    >[];
    const corpus: string[] = [];
    const at = new Map<string, number>();
    const rowOf = (s: string) => {
      let i = at.get(s);
      if (i === undefined) {
        i = corpus.length;
        corpus.push(s);
        at.set(s, i);
      }
      return i;
    };
    const queries: string[] = [];
    const relevant: number[][] = [];
    for (const r of rows) {
      const s2 = r.sentence2 ?? '';
      const i = rowOf(s2);
      if (Number(r.score) >= minScore && r.sentence1) {
        queries.push(r.sentence1);
        relevant.push([i]);
      }
    }
    return { format: 'sts-pairs', queries, corpus, relevant, self: queries.map(() => -1) };
  }
  if (header.includes('STORY')) {
    const rows = parseUciCsv(text);
    const byStory = new Map<string, number[]>();
    rows.forEach((r, i) => {
      const s = byStory.get(r.story) ?? [];
      s.push(i);
      byStory.set(r.story, s);
    });
    const corpus = rows.map((r) => r.title);
    return {
      format: 'uci-stories',
      queries: corpus,
      corpus,
      relevant: rows.map((r, i) => byStory.get(r.story)!.filter((j) => j !== i)),
      self: rows.map((_, i) => i),
    };
  }
  throw new Error(`${path}: not an STS headline-pairs TSV (sentence1/sentence2) nor a UCI CSV (STORY column)`);
}

export interface SearchEval {
  format: SearchSet['format'];
  model: string;
  queries: number;
  corpus: number;
  k: number;
  /** mean over queries of |relevant ∩ top k| / min(k, |relevant|) */
  recallAtK: number;
  /** mean reciprocal rank of the first relevant row (0 when none in the top 100) */
  mrr: number;
}

/** Ranks the corpus by cosine of the client's embeddings (exact scan) and scores recall@k and MRR. */
export async function evaluateSearch(set: SearchSet, client: EmbeddingClient, k = 10): Promise<SearchEval> {
  const embed = async (texts: string[]) => {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += 512) {
      const r = await client.embed(texts.slice(i, i + 512));
      for (const e of r.results) out.push(e instanceof Error ? new Float32Array(0) : e.vector);
    }
    return out;
  };
  const docs = await embed(set.corpus);
  const qs = set.format === 'uci-stories' ? docs : await embed(set.queries);
  const dims = docs.find((d) => d.length > 0)?.length ?? 0;
  const unit = (v: Float32Array) => {
    let n = 0;
    for (const x of v) n += x * x;
    const s = n > 0 ? 1 / Math.sqrt(n) : 0;
    return v.length === dims ? v.map((x) => x * s) : new Float32Array(dims);
  };
  const D = docs.map(unit);
  const depth = Math.max(k, 100);
  let recall = 0;
  let mrr = 0;
  let scored = 0;
  qs.forEach((q0, qi) => {
    const rel = new Set(set.relevant[qi]);
    if (rel.size === 0) return;
    scored++;
    const q = unit(q0);
    const s = D.map((d, j) => {
      if (j === set.self[qi]) return Number.NEGATIVE_INFINITY;
      let x = 0;
      for (let i = 0; i < dims; i++) x += d[i]! * q[i]!;
      return x;
    });
    const order = s
      .map((x, j) => [x, j] as const)
      .sort((a, b) => b[0] - a[0] || a[1] - b[1])
      .slice(0, depth);
    let hits = 0;
    for (let r = 0; r < k && r < order.length; r++) if (rel.has(order[r]![1])) hits++;
    recall += hits / Math.min(k, rel.size);
    const first = order.findIndex(([, j]) => rel.has(j));
    if (first >= 0) mrr += 1 / (first + 1);
  });
  return {
    format: set.format,
    model: client.settings.model,
    queries: scored,
    corpus: set.corpus.length,
    k,
    recallAtK: recall / Math.max(scored, 1),
    mrr: mrr / Math.max(scored, 1),
  };
}
