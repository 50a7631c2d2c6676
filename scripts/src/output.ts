import Table from 'cli-table3';

export interface OutputOptions {
  json?: boolean;
}

/** Human table by default, one JSON document with --json (for scripts). */
export function printRows<T extends object>(rows: T[], opts: OutputOptions, columns?: (keyof T & string)[]): void {
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const cols = columns ?? (rows[0] ? (Object.keys(rows[0]) as (keyof T & string)[]) : []);
  if (rows.length === 1 && cols.length > 6) {
    // one wide record reads better as key/value lines
    const t = new Table({ style: { head: [], border: [] } });
    for (const c of cols) t.push({ [c]: formatCell(rows[0]?.[c]) });
    process.stdout.write(`${t.toString()}\n`);
    return;
  }
  const t = new Table({ head: cols, style: { head: [], border: [] } });
  for (const r of rows) t.push(cols.map((c) => formatCell(r[c])));
  process.stdout.write(`${t.toString()}\n`);
}

function formatCell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(2);
  return String(v);
}

/** Progress lines go to stderr so `--json` output on stdout stays parseable. */
export const log = (line: string): void => {
  process.stderr.write(`feedlog: ${line}\n`);
};
