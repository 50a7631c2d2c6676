import type { ScenarioResult } from './scenarios.ts';

/** The chaos table: one row per scenario, the columns issue 15 asks for. */
export const columns = [
  'scenario',
  'items pushed',
  'in PostgreSQL',
  'in the index',
  'duplicates',
  'lost',
  'DLQ',
  'max lag',
  'recovery s',
  'failed API reads',
] as const;

export function tableRow(r: ScenarioResult): string[] {
  return [
    r.scenario,
    String(r.pushed),
    String(r.inPostgres),
    String(r.inIndex),
    String(r.duplicates),
    String(r.lost),
    r.dlqUnexpected ? `${r.dlq} (${r.dlqUnexpected} unexpected)` : String(r.dlq),
    String(r.maxLag),
    (r.recoveryMs / 1000).toFixed(1),
    `${r.readsFailed} / ${r.readsOk + r.readsFailed}`,
  ];
}

/** A Markdown table (pastes into bench/RESULTS.md as it is, reads in a terminal too). */
export function formatTable(results: readonly ScenarioResult[]): string {
  const rows = [columns as readonly string[], ...results.map(tableRow)];
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(rows[0] ?? []), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join(
    '\n',
  );
}

/** Whether a result keeps the promise: nothing lost, nothing doubled, only the poison dead-lettered. */
export function passed(r: ScenarioResult): boolean {
  return (
    r.lost === 0 && r.duplicates === 0 && r.dlqUnexpected === 0 && r.inPostgres === r.pushed && r.inIndex === r.pushed
  );
}
