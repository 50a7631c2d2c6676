import { fileURLToPath } from 'node:url';
import type { ChangelogEntry } from '../src/state.ts';

export const FIXTURE = fileURLToPath(new URL('./fixtures/headlines.csv', import.meta.url));

/** What a compacted topic retains: the latest value per key, tombstoned keys dropped. */
export function compact(entries: readonly ChangelogEntry[]): ChangelogEntry[] {
  const last = new Map<string, string | null>();
  for (const e of entries) {
    last.delete(e.key); // keep offset order of the latest write
    last.set(e.key, e.value);
  }
  return [...last].filter(([, v]) => v !== null).map(([key, value]) => ({ key, value }));
}

/** Canonical, order-independent view of a state's snapshot, for equality checks. */
export function canonical(entries: readonly ChangelogEntry[]): [string, string | null][] {
  return entries.map((e) => [e.key, e.value] as [string, string | null]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}
