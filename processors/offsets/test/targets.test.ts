import { describe, expect, it } from 'vitest';
import { NoCommittedOffsetError } from '../src/errors.ts';
import { clampToLog, durationTimestamp, planPartition, targetOffset } from '../src/targets.ts';
import type { PartitionFacts, ResetMode } from '../src/types.ts';

const facts = (f: Partial<PartitionFacts> = {}): PartitionFacts => ({
  topic: 't',
  partition: 0,
  committed: 10n,
  logStart: 4n,
  logEnd: 20n,
  ...f,
});
const target = (mode: ResetMode, f: Partial<PartitionFacts> = {}, store: 'kafka' | 'postgres' = 'kafka') =>
  targetOffset(mode, store, facts(f));

describe('clamping (Kafka checkOffsetsRange)', () => {
  it('moves offsets outside the log to the nearer bound', () => {
    expect(clampToLog(25n, 4n, 20n)).toBe(20n);
    expect(clampToLog(1n, 4n, 20n)).toBe(4n);
    expect(clampToLog(4n, 4n, 20n)).toBe(4n);
    expect(clampToLog(20n, 4n, 20n)).toBe(20n);
    expect(clampToLog(-5n, 0n, 0n)).toBe(0n); // empty log
  });
  it('applies to --to-offset, --shift-by and --from-file only', () => {
    expect(target({ kind: 'to-offset', offset: 100n })).toEqual({ target: 20n, clamped: true });
    expect(target({ kind: 'to-offset', offset: 2n })).toEqual({ target: 4n, clamped: true });
    expect(target({ kind: 'to-offset', offset: 7n })).toEqual({ target: 7n, clamped: false });
    expect(target({ kind: 'shift-by', by: -8n })).toEqual({ target: 4n, clamped: true });
    expect(target({ kind: 'shift-by', by: 12n })).toEqual({ target: 20n, clamped: true });
    expect(target({ kind: 'shift-by', by: -3n })).toEqual({ target: 7n, clamped: false });
    expect(target({ kind: 'from-file', entries: [] }, { requested: 999n })).toEqual({ target: 20n, clamped: true });
    // a committed offset already below a log start that moved up (records deleted)
    expect(target({ kind: 'shift-by', by: 1n }, { committed: 1n })).toEqual({ target: 4n, clamped: true });
  });
});

describe('modes', () => {
  it('earliest, latest, current', () => {
    expect(target({ kind: 'to-earliest' }).target).toBe(4n);
    expect(target({ kind: 'to-latest' }).target).toBe(20n);
    expect(target({ kind: 'to-current' }).target).toBe(10n);
  });
  it('--to-current without a committed offset: the log end for Kafka groups, the log start for the materializer', () => {
    expect(target({ kind: 'to-current' }, { committed: null }).target).toBe(20n);
    expect(target({ kind: 'to-current' }, { committed: null }, 'postgres').target).toBe(4n);
  });
  it('--shift-by without a committed offset is refused for Kafka groups, shifts from the log start for the materializer', () => {
    expect(() => target({ kind: 'shift-by', by: 1n }, { committed: null })).toThrow(NoCommittedOffsetError);
    expect(target({ kind: 'shift-by', by: 3n }, { committed: null }, 'postgres').target).toBe(7n);
  });
  it('datetime: the first offset at/after the time, the log end when no record is', () => {
    expect(target({ kind: 'to-datetime', timestamp: 0 }, { atTimestamp: 12n }).target).toBe(12n);
    expect(target({ kind: 'to-datetime', timestamp: 0 }, { atTimestamp: null })).toEqual({
      target: 20n,
      clamped: false,
    });
    expect(target({ kind: 'by-duration', durationMs: 1 }, { atTimestamp: null }).target).toBe(20n);
  });
  it('by-duration is now − duration', () => {
    expect(durationTimestamp(1_000_000, 3_600)).toBe(996_400);
    expect(durationTimestamp(1_000_000, -3_600)).toBe(1_003_600);
  });
});

describe('plan rows', () => {
  it('counts records read again (+) or skipped (−)', () => {
    expect(planPartition({ kind: 'to-earliest' }, 'kafka', facts())).toMatchObject({
      current: 10n,
      resumeFrom: 10n,
      target: 4n,
      reprocess: 6n,
      clamped: false,
    });
    expect(planPartition({ kind: 'to-latest' }, 'kafka', facts()).reprocess).toBe(-10n);
    expect(planPartition({ kind: 'to-latest' }, 'kafka', facts({ committed: null })).reprocess).toBeNull();
    expect(planPartition({ kind: 'to-offset', offset: 15n }, 'postgres', facts({ committed: null }))).toMatchObject({
      current: null,
      resumeFrom: 4n,
      target: 15n,
      reprocess: -11n,
    });
  });
});

describe('where the offsets live', () => {
  it('the materializer group names go to PostgreSQL without asking; an explicit choice wins', async () => {
    const { resolveStore } = await import('../src/plan.ts');
    const pool = {} as import('pg').Pool; // not queried for these
    await expect(resolveStore('auto', 'feedlog.materialize.g3', pool)).resolves.toBe('postgres');
    await expect(resolveStore('auto', 'feedlog.materialize.g3', undefined)).rejects.toThrow(
      /offsets are in PostgreSQL/,
    );
    await expect(resolveStore('kafka', 'feedlog.materialize.g1', pool)).resolves.toBe('kafka');
    await expect(resolveStore('auto', 'orders', undefined)).resolves.toBe('kafka');
    await expect(resolveStore('postgres', 'orders', undefined)).rejects.toThrow(/needs a database/);
  });
});
