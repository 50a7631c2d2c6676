import { createReadStream } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fetchFeed } from '@feedlog/poller/fetch';
import { parseFeedBody, parseFeedDate } from '@feedlog/poller/parse/index';
import { parse } from 'csv-parse';
import type { FeedItemInput } from './client.ts';
import { jsonToItem, uciRowToItem } from './readers.ts';

/** One input record: an item, or why the record could not be read, with where it is. */
export interface SourceRow {
  /** line in the file (CSV, JSONL), or the item's position in a feed */
  line: number;
  item?: FeedItemInput;
  error?: string;
}

/** `title=TITLE,url=URL,source=PUBLISHER,guid=ID,published_at=TIMESTAMP` → item field → CSV column. */
export type ColumnMap = Partial<Record<'source' | 'url' | 'title' | 'guid' | 'summary' | 'published_at', string>>;

const fields = new Set(['source', 'url', 'title', 'guid', 'summary', 'published_at']);

export function parseColumnMap(text: string): ColumnMap {
  const map: ColumnMap = {};
  for (const pair of text.split(',')) {
    const [field, column] = pair.split('=').map((s) => s.trim());
    if (!field || !column || !fields.has(field))
      throw new Error(`--map: "${pair}" is not field=COLUMN with a field among ${[...fields].join(', ')}`);
    map[field as keyof ColumnMap] = column;
  }
  if (!map.title || !map.url) throw new Error('--map needs at least title=… and url=…');
  return map;
}

export type SourceKind = 'csv' | 'jsonl' | 'feed';

export function sourceKind(input: string): SourceKind {
  if (/^https?:\/\//i.test(input) || /\.(xml|rss|atom|rdf)$/i.test(input)) return 'feed';
  if (/\.jsonl?$/i.test(input)) return 'jsonl';
  if (/\.[ct]sv$/i.test(input)) return 'csv';
  throw new Error(`${input}: expected a .csv/.tsv, .jsonl, a feed file (.xml, .rss, .atom) or an http(s) feed URL`);
}

function mappedRow(row: Record<string, string>, map: ColumnMap, source?: string): FeedItemInput {
  const get = (f: keyof ColumnMap) => (map[f] ? (row[map[f]] ?? '') : '');
  const p = get('published_at').trim();
  const epoch = /^\d{10,13}$/.test(p) ? Number(p) * (p.length === 10 ? 1000 : 1) : null;
  const parsed = epoch ?? (p ? parseFeedDate(p) : null);
  return {
    source: (get('source') || source) ?? '',
    url: get('url'),
    title: get('title'),
    guid: get('guid') || null,
    summary: get('summary') || null,
    published_at: parsed === null ? (p ? p : null) : new Date(parsed).toISOString(),
  };
}

export interface SourceOptions {
  map?: ColumnMap;
  /** source id for rows/feeds that give none */
  source?: string;
}

/**
 * The records of a CSV (UCI columns, the item fields as columns, or `--map`), a JSONL file, or a
 * feed (file or URL, parsed like the poller parses). A malformed record is a row with its line
 * number and the reason, never an exception: the run goes on and the summary lists it.
 */
export async function* readSource(input: string, opts: SourceOptions = {}): AsyncGenerator<SourceRow> {
  const kind = sourceKind(input);
  // a missing file is one clear error up front (a stream error would escape the CSV parser)
  if (!/^https?:\/\//i.test(input))
    await access(input).catch(() => Promise.reject(new Error(`${input}: no such file`)));
  if (kind === 'jsonl') {
    const lines = createInterface({ input: createReadStream(input, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
    let n = 0;
    for await (const line of lines) {
      n++;
      if (!line.trim()) continue;
      try {
        yield { line: n, item: jsonToItem(JSON.parse(line)) };
      } catch (e) {
        yield { line: n, error: `not JSON: ${(e as Error).message}` };
      }
    }
    return;
  }
  if (kind === 'feed') {
    let body: Buffer;
    let url = input;
    let charset: string | null = null;
    if (/^https?:\/\//i.test(input)) {
      const r = await fetchFeed(input, { timeoutMs: 30_000, maxBytes: 20 * 1024 * 1024, maxRedirects: 5 });
      if (r.kind !== 'body') throw new Error(`${input}: ${'message' in r ? r.message : 'HTTP 304'}`);
      [body, url, charset] = [r.body, r.finalUrl, r.charset];
    } else {
      body = await readFile(input);
      url = `file://${input}`;
    }
    const parsed = await parseFeedBody(body, {
      feedUrl: url,
      httpCharset: charset,
      ...(opts.source ? { source: opts.source } : url.startsWith('file:') ? { source: 'file' } : {}),
    });
    let i = 0;
    for (const it of parsed.items) {
      i++;
      yield {
        line: i,
        item: {
          source: it.source,
          url: it.url,
          title: it.title,
          guid: it.guid,
          summary: it.summary,
          published_at: new Date(it.published_at).toISOString(),
        },
      };
    }
    return;
  }
  const skipped: SourceRow[] = [];
  let lastEnd = 1; // the header
  const parser = createReadStream(input).pipe(
    parse({
      columns: true,
      delimiter: input.toLowerCase().endsWith('.tsv') ? '\t' : ',',
      relax_quotes: true,
      skip_empty_lines: true,
      bom: true,
      info: true,
      skip_records_with_error: true,
      on_skip: (err) => {
        if (!err) return;
        const quote = err.code === 'CSV_QUOTE_NOT_CLOSED';
        skipped.push({
          line: quote ? lastEnd + 1 : ((err as { lines?: number }).lines ?? lastEnd + 1),
          error: quote
            ? `a quoted field opened on this line is never closed (nothing after it could be read)`
            : err.message
                .replace(
                  /^Invalid Record Length: columns length is (\d+), got (\d+).*$/,
                  'expected $1 fields (as in the header), found $2',
                )
                .replace(/ on line \d+$/, ''),
        });
      },
    }),
  );
  for await (const rec of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    while (skipped.length) yield skipped.shift()!;
    const row = rec.record;
    lastEnd = rec.info.lines;
    yield {
      line: rec.info.lines,
      item: opts.map ? mappedRow(row, opts.map, opts.source) : 'TITLE' in row ? uciRowToItem(row) : jsonToItem(row),
    };
  }
  while (skipped.length) yield skipped.shift()!;
}
