import { describe, expect, it } from 'vitest';
import { selectScenarios } from './run.ts';
import type { ScenarioResult } from './scenarios.ts';
import { formatTable, passed } from './table.ts';

const result = (over: Partial<ScenarioResult> = {}): ScenarioResult => ({
  scenario: 'sigkill',
  fault: 'f',
  did: 'd',
  pushed: 600,
  inPostgres: 600,
  inIndex: 600,
  duplicates: 0,
  lost: 0,
  dlq: 0,
  dlqUnexpected: 0,
  rawRetries: 0,
  topics: [],
  examples: [],
  maxLag: 12,
  recoveryMs: 1_500,
  readsOk: 90,
  readsFailed: 10,
  crashes: [],
  seconds: 30,
  ...over,
});

describe('chaos table', () => {
  it('prints one aligned Markdown row per scenario with the issue-15 columns', () => {
    const t = formatTable([result(), result({ scenario: 'poison', dlq: 60, dlqUnexpected: 2 })]).split('\n');
    expect(t).toHaveLength(4);
    expect(t[0]).toMatch(/^\| scenario +\| items pushed \| in PostgreSQL \| in the index \| duplicates \| lost \| DLQ/);
    expect(t[2]).toContain('| 1.5 ');
    expect(t[2]).toContain('10 / 100');
    expect(t[3]).toContain('60 (2 unexpected)');
    expect(new Set(t.map((l) => l.length)).size).toBe(1);
  });

  it('passes only with nothing lost, doubled, missing from a store or unexpectedly dead-lettered', () => {
    expect(passed(result())).toBe(true);
    expect(passed(result({ lost: 1 }))).toBe(false);
    expect(passed(result({ duplicates: 1 }))).toBe(false);
    expect(passed(result({ inIndex: 599 }))).toBe(false);
    expect(passed(result({ dlqUnexpected: 1 }))).toBe(false);
  });

  it('CI scale runs the SIGKILL, poison and PostgreSQL-down scenarios; an unknown name is refused', () => {
    expect(selectScenarios('ci').map((s) => s.name)).toEqual(['sigkill', 'poison', 'postgres-down']);
    expect(selectScenarios('full').length).toBeGreaterThan(3);
    expect(() => selectScenarios('full', ['nope'])).toThrow(/unknown scenario nope/);
  });
});
