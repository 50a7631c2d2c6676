import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseCsvFile } from '@feedlog/common/csv';

/** One labelled row. `summary` is the optional second field (AG News description, HuffPost short_description). */
export interface Example {
  title: string;
  summary?: string;
  label: string;
  /** Rows sharing a group (UCI STORY) are near-duplicates and must stay on one side of a split. */
  group?: string;
}

export type DataFormat = 'agnews' | 'uci' | 'huffpost' | 'csv';
export const DATA_FORMATS: readonly DataFormat[] = ['agnews', 'uci', 'huffpost', 'csv'];

export interface Dataset {
  format: DataFormat;
  path: string;
  /** Labels in a stable order (the model's class order). */
  labels: string[];
  examples: Example[];
}

export class DataFormatError extends Error {
  override readonly name = 'DataFormatError';
}

/** Category names for the UCI News Aggregator codes. */
export const UCI_LABELS: Record<string, string> = {
  b: 'business',
  t: 'science-tech',
  e: 'entertainment',
  m: 'health',
};

const AG_DEFAULT_CLASSES = ['World', 'Sports', 'Business', 'Sci/Tech'];

export function detectFormat(path: string): DataFormat {
  const b = basename(path).toLowerCase();
  if (b.endsWith('.jsonl') || b.endsWith('.json')) return 'huffpost';
  const head = readFileSync(path, 'utf8').slice(0, 2000);
  if (/^ID,TITLE,URL,PUBLISHER,CATEGORY,STORY/i.test(head)) return 'uci';
  if (/^"?[1-4]"?,"/.test(head)) return 'agnews';
  return 'csv';
}

export function loadDataset(path: string, format: DataFormat = detectFormat(path)): Dataset {
  if (!existsSync(path)) throw new DataFormatError(`data file not found: ${path}`);
  const text = readFileSync(path, 'utf8');
  let examples: Example[];
  let labels: string[] | undefined;
  switch (format) {
    case 'agnews': {
      const classesFile = join(dirname(path), 'classes.txt');
      const classes = existsSync(classesFile)
        ? readFileSync(classesFile, 'utf8')
            .split(/\r?\n/)
            .map((s) => s.trim())
            .filter(Boolean)
        : AG_DEFAULT_CLASSES;
      const rows = parseCsvFile<string[]>(text, path, { relax_column_count: false, skip_empty_lines: true });
      examples = rows.map((r, n) => {
        const cls = Number(r[0]);
        const label = classes[cls - 1];
        if (r.length < 2 || !Number.isInteger(cls) || label === undefined) {
          throw new DataFormatError(`${path}: row ${n + 1}: expected class 1..${classes.length}, title, description`);
        }
        return { title: cleanAg(r[1] ?? ''), summary: cleanAg(r[2] ?? ''), label };
      });
      labels = classes;
      break;
    }
    case 'uci': {
      const rows = parseCsvFile<Record<string, string>>(text, path, { columns: true, skip_empty_lines: true });
      examples = rows.map((r, n) => {
        const label = UCI_LABELS[r.CATEGORY ?? ''];
        if (!label || r.TITLE === undefined) throw new DataFormatError(`${path}: row ${n + 2}: bad CATEGORY or TITLE`);
        return { title: r.TITLE, label, ...(r.STORY ? { group: r.STORY } : {}) };
      });
      labels = Object.values(UCI_LABELS);
      break;
    }
    case 'huffpost': {
      examples = text
        .split(/\r?\n/)
        .filter((l) => l.trim())
        .map((l, n) => {
          let o: Record<string, unknown>;
          try {
            o = JSON.parse(l) as Record<string, unknown>;
          } catch (e) {
            throw new DataFormatError(`${path}: line ${n + 1}: ${(e as Error).message}`);
          }
          if (typeof o.headline !== 'string' || typeof o.category !== 'string') {
            throw new DataFormatError(`${path}: line ${n + 1}: expected string "headline" and "category"`);
          }
          const summary = typeof o.short_description === 'string' ? o.short_description : '';
          return { title: o.headline, summary, label: o.category };
        });
      break;
    }
    case 'csv': {
      const rows = parseCsvFile<Record<string, string>>(text, path, {
        columns: (h: string[]) => h.map((s) => s.trim().toLowerCase()),
        skip_empty_lines: true,
      });
      const recs = rows as Record<string, string>[];
      const cols = Object.keys(recs[0] ?? {});
      const pick = (names: string[]) => names.find((c) => cols.includes(c));
      const lc = pick(['label', 'category', 'class']);
      const tc = pick(['title', 'headline', 'text']);
      const sc = pick(['summary', 'description', 'short_description']);
      const gc = pick(['story', 'group']);
      if (!lc || !tc) {
        throw new DataFormatError(`${path}: csv needs a header with label|category|class and title|headline|text`);
      }
      examples = recs.map((r) => ({
        title: r[tc] ?? '',
        label: (r[lc] ?? '').trim(),
        ...(sc && r[sc] ? { summary: r[sc] } : {}),
        ...(gc && r[gc] ? { group: r[gc] } : {}),
      }));
      break;
    }
  }
  examples = examples.filter((e) => e.label !== '' && e.title.trim() !== '');
  if (examples.length === 0) throw new DataFormatError(`${path}: no labelled rows`);
  labels ??= [...new Set(examples.map((e) => e.label))].sort();
  const present = new Set(examples.map((e) => e.label));
  labels = labels.filter((l) => present.has(l));
  return { format, path, labels, examples };
}

/** AG News escapes: backslash sequences and HTML entities left by the original crawl. */
function cleanAg(s: string): string {
  return s
    .replace(/\\\\/g, ' ')
    .replace(/\\n/g, ' ')
    .replace(/&lt;[^&]*&gt;/g, ' ')
    .replace(/&[a-z]+;|&#\d+;/gi, ' ')
    .replace(/#\d+;/g, ' ')
    .trim();
}

/** The text a record gives the model: headline plus optional summary, whatever the record has. */
export function textOf(r: { title?: string | null; summary?: string | null }, useSummary = true): string {
  const t = r.title ?? '';
  const s = useSummary ? (r.summary ?? '') : '';
  return s ? `${t}\n${s}` : t;
}
