import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pollerEnv } from './env.ts';

/** One line of the shared feeds folder's CHECK.txt: what a correct parser must find in a file. */
export interface CheckEntry {
  /** path below the feeds folder, e.g. `rss-parser/encoding.rss` */
  file: string;
  bytes: number;
  /** rss0.91, rss0.92, rss1.0/rdf, rss2.0, atom, atom-entry, rdf, catalog, or `?` when malformed */
  format: string;
  /** null when malformed */
  items: number | null;
  /** declared encoding, or null when the file declares none */
  encoding: string | null;
  malformed: string | null;
  /** e.g. `gzip` for a gzip body */
  note: string | null;
}

/** The shared data folder's feeds (../shared/data/feeds from the repository root), when present. */
export function sharedFeedsDir(): string | undefined {
  const candidates = [
    pollerEnv.parse().FEEDLOG_FEEDS_DIR,
    resolve(import.meta.dirname, '../../../../shared/data/feeds'),
    resolve(process.cwd(), '../shared/data/feeds'),
    '/work/shared/data/feeds',
  ];
  return candidates.find((d): d is string => !!d && existsSync(join(d, 'CHECK.txt')));
}

export function readCheck(dir: string): CheckEntry[] {
  return readFileSync(join(dir, 'CHECK.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((line) => {
      const [file, bytes, format, items, encoding, status, note] = line.trim().split(/\s+/);
      const malformed = status?.startsWith('MALFORMED:')
        ? status.slice('MALFORMED:'.length).replaceAll('_', ' ')
        : null;
      return {
        file: file!,
        bytes: Number(bytes),
        format: format!,
        items: items === '-' || items === undefined ? null : Number(items),
        encoding: encoding === '-' || encoding === undefined ? null : encoding,
        malformed,
        note: note ?? null,
      };
    });
}
