import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { type ClusterEvalResult, registerClusterCommands } from '../src/cli.ts';
import { FIXTURE } from './helpers.ts';

function run(args: string[]): string {
  let out = '';
  const program = new Command().exitOverride();
  registerClusterCommands(program, (s) => {
    out += s;
  });
  program.parse(['node', 'feedlog', ...args]);
  return out;
}

describe('eval cluster', () => {
  it('prints JSON metrics for a CSV', () => {
    const r = JSON.parse(run(['eval', 'cluster', '--data', FIXTURE, '--json', '--baseline'])) as ClusterEvalResult;
    expect(r.results.map((x) => x.method)).toEqual(['tfidf-centroid', 'minhash-lsh']);
    const m = r.results[0]!;
    expect(m.records).toBe(36);
    expect(m.goldClusters).toBe(8);
    expect(m.bcubed.f1).toBeGreaterThan(0.9);
    expect(m.recordsPerSecond).toBeGreaterThan(0);
  });

  it('prints a table and honours options', () => {
    const out = run(['eval', 'cluster', '--data', FIXTURE, '--threshold', '0.9', '--seed-threshold', '0.95']);
    expect(out).toMatch(/B3-F1/);
    expect(out).toMatch(/threshold 0\.9,/);
    expect(out).toMatch(/tfidf-centroid\s+36\s+/);
  });

  it('reuses an existing eval command and rejects bad input', () => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
    program.command('eval').command('classify');
    registerClusterCommands(program, () => {});
    expect(program.commands.filter((c) => c.name() === 'eval')).toHaveLength(1);
    expect(() => program.parse(['node', 'f', 'eval', 'cluster', '--data', '/nonexistent.csv'])).toThrow(/not found/);
    expect(() => program.parse(['node', 'f', 'eval', 'cluster', '--data', FIXTURE, '--threshold', '2'])).toThrow();
  });
});
