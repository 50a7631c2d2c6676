import { readFileSync } from 'node:fs';
import { parseCsvFile } from '@feedlog/common/csv';
import type { HeadlineRecord } from './state.ts';

/** A headline with its gold story label. */
export interface LabeledHeadline extends HeadlineRecord {
  story: string;
}

const REQUIRED = ['ID', 'TITLE', 'PUBLISHER', 'CATEGORY', 'STORY', 'TIMESTAMP'] as const;

/**
 * Parses a UCI News Aggregator style CSV (ID,TITLE,URL,PUBLISHER,CATEGORY,STORY,HOSTNAME,TIMESTAMP)
 * and returns its rows in event-time order (ties keep file order).
 */
export function parseUciCsv(text: string | Buffer, file = '<input>'): LabeledHeadline[] {
  const rows = parseCsvFile<Record<string, string>>(text, file, {
    columns: true,
    skip_empty_lines: true,
    bom: true,
    relax_quotes: true,
  });
  if (rows.length > 0) {
    const missing = REQUIRED.filter((c) => !(c in rows[0]!));
    if (missing.length > 0) throw new Error(`CSV lacks column(s) ${missing.join(', ')}`);
  }
  const out = rows.map((r, i) => {
    const publishedAt = Number(r.TIMESTAMP);
    if (!Number.isFinite(publishedAt)) throw new Error(`row ${i + 2}: TIMESTAMP ${r.TIMESTAMP} is not a number`);
    const rec: LabeledHeadline = {
      itemId: r.ID!,
      title: r.TITLE!,
      source: r.PUBLISHER!,
      publishedAt,
      category: r.CATEGORY!,
      story: r.STORY!,
    };
    return { rec, i };
  });
  out.sort((a, b) => a.rec.publishedAt - b.rec.publishedAt || a.i - b.i);
  return out.map((x) => x.rec);
}

export function loadUciCsv(path: string): LabeledHeadline[] {
  return parseUciCsv(readFileSync(path), path);
}
