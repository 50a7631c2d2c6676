import type { Options } from 'csv-parse';
import { parse } from 'csv-parse/sync';

/** A CSV file that cannot be read, named with the line where reading stopped. */
export class CsvFileError extends Error {
  override readonly name = 'CsvFileError';
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(`${file}${line ? `: line ${line}` : ''}: ${reason}`);
  }
}

/**
 * csv-parse's synchronous parser with its errors (CsvError: a row with the wrong number of fields,
 * a stray quote…) turned into a CsvFileError naming the file and line, so CLIs that load data
 * (`feedlog train classify`, `feedlog eval cluster`) print one clear line instead of a stack.
 */
export function parseCsvFile<T = string[]>(text: string | Buffer, file: string, options: Options = {}): T[] {
  try {
    return parse(text, options) as T[];
  } catch (e) {
    const err = e as { code?: unknown; lines?: unknown; message?: unknown };
    if (typeof err?.code !== 'string' || !err.code.startsWith('CSV_')) throw e;
    const line = typeof err.lines === 'number' ? err.lines : undefined;
    // csv-parse ends its messages with "on line N"; the line is already in front
    const reason = String(err.message).replace(/\s*(at|on) line \d+\s*$/, '');
    throw new CsvFileError(file, line, `${reason} (${err.code}); is the file comma-separated with quoted fields?`);
  }
}
