// Real headlines for load: UCI News Aggregator and AG News rows from ../shared/data (or
// ../../shared/data from a worktree in a folder of worktrees), cycled with
// fresh guids so each pushed item is a new item id; the project's own paraphrase fixture when
// ../shared is absent (CI without the data sets).
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '@feedlog/common';
import { parse } from 'csv-parse/sync';

export interface Headline {
  source: string;
  url: string;
  title: string;
  summary?: string;
}

export interface HeadlineSet {
  dataset: string;
  rows: Headline[];
}

/** ../shared/data beside the repository, or beside the folder of worktrees it is one of */
function sharedData(root: string): string {
  const candidates = [join(root, '..', 'shared', 'data'), join(root, '..', '..', 'shared', 'data')];
  return candidates.find((d) => existsSync(d)) ?? candidates[0]!;
}

export function loadHeadlines(root = repoRoot()): HeadlineSet {
  const data = sharedData(root);
  const uci = join(data, 'uci', 'stories-dev.csv');
  const ag = join(data, 'ag_news', 'ag_news-dev.csv');
  const rows: Headline[] = [];
  const used: string[] = [];
  if (existsSync(uci)) {
    const recs = parse(readFileSync(uci), { columns: true, relax_quotes: true, skip_empty_lines: true }) as Record<
      string,
      string
    >[];
    for (const r of recs) {
      if (r.TITLE)
        rows.push({ source: r.HOSTNAME || 'uci', url: r.URL || `https://uci.example/${r.ID}`, title: r.TITLE });
    }
    used.push('uci/stories-dev.csv');
  }
  if (existsSync(ag)) {
    const recs = parse(readFileSync(ag), { relax_quotes: true, skip_empty_lines: true }) as string[][];
    recs.forEach((r, i) => {
      if (r[1]) rows.push({ source: 'ag_news', url: `https://ag-news.example/${i}`, title: r[1], summary: r[2] ?? '' });
    });
    used.push('ag_news/ag_news-dev.csv');
  }
  if (rows.length > 0) return { dataset: used.map((u) => join(relative(root, data), u)).join(' + '), rows };
  const fixture = join(root, 'processors/embed/fixtures/paraphrases.json');
  const { pairs } = JSON.parse(readFileSync(fixture, 'utf8')) as { pairs: { title: string; summary: string | null }[] };
  return {
    dataset: 'processors/embed/fixtures/paraphrases.json (bundled)',
    rows: pairs.map((p, i) => ({
      source: 'feedlog-fixture',
      url: `https://example.org/fixture/${i}`,
      title: p.title,
      ...(p.summary ? { summary: p.summary } : {}),
    })),
  };
}

/**
 * The n-th pushed item of a run: row n mod |rows|, with a guid unique to the run and n, and a
 * short suffix (the run's last 4 characters, n in base 36) that makes its title unique too:
 * cycled rows, or an earlier run's, would otherwise repeat texts, which the shared embedding
 * cache answers without the model.
 */
export function nthItem(set: HeadlineSet, run: string, n: number) {
  const r = set.rows[n % set.rows.length]!;
  return { ...r, title: `${r.title} [${run.slice(-4)}.${n.toString(36)}]`, guid: `${run}:${n}` };
}
