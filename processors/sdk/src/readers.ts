import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import type { FeedItemInput } from './client.ts';

/**
 * A UCI News Aggregator row (`ID,TITLE,URL,PUBLISHER,CATEGORY,STORY,HOSTNAME,TIMESTAMP`) as a
 * feed item: the host name is the source id, the row ID the guid, TIMESTAMP (epoch ms) the
 * publication time. CATEGORY and STORY are labels for evaluation, not item fields.
 */
export function uciRowToItem(row: Record<string, string>): FeedItemInput {
  const ts = Number(row.TIMESTAMP);
  return {
    source: row.HOSTNAME || row.PUBLISHER || 'unknown',
    guid: row.ID ? `uci:${row.ID}` : null,
    url: row.URL ?? '',
    title: row.TITLE ?? '',
    published_at: Number.isFinite(ts) && ts > 0 ? new Date(ts).toISOString() : null,
  };
}

/** JSONL: one feed item per line (published_at may be an ISO string or epoch ms). */
export function jsonToItem(v: unknown): FeedItemInput {
  const o = (v ?? {}) as Record<string, unknown>;
  const p = o.published_at;
  return {
    source: String(o.source ?? ''),
    url: String(o.url ?? ''),
    title: String(o.title ?? ''),
    guid: o.guid == null ? null : String(o.guid),
    summary: o.summary == null ? null : String(o.summary),
    published_at: typeof p === 'number' ? new Date(p).toISOString() : typeof p === 'string' ? p : null,
  };
}

/** Items of a .csv (UCI columns, or the item fields as columns) or .jsonl file, streamed. */
export async function* readItems(file: string): AsyncGenerator<FeedItemInput> {
  if (/\.jsonl?$/i.test(file)) {
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
    let n = 0;
    for await (const line of lines) {
      n++;
      if (!line.trim()) continue;
      try {
        yield jsonToItem(JSON.parse(line));
      } catch (e) {
        throw new Error(`${file}:${n}: not JSON (${(e as Error).message})`);
      }
    }
    return;
  }
  if (!/\.[ct]sv$/i.test(file)) throw new Error(`${file}: expected a .csv, .tsv or .jsonl file`);
  const parser = createReadStream(file).pipe(
    parse({
      columns: true,
      delimiter: file.toLowerCase().endsWith('.tsv') ? '\t' : ',',
      relax_quotes: true,
      skip_empty_lines: true,
      bom: true,
    }),
  );
  for await (const row of parser as AsyncIterable<Record<string, string>>) {
    yield 'TITLE' in row ? uciRowToItem(row) : jsonToItem(row);
  }
}

/** Count the records first so the progress bar has a total (cheap next to the upload). */
export async function countItems(file: string): Promise<number> {
  let n = 0;
  for await (const _ of readItems(file)) n++;
  return n;
}
