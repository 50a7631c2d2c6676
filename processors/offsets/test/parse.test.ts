import { describe, expect, it } from 'vitest';
import { resetRequest } from '../src/args.ts';
import { formatOffsetsCsv, parseOffsetsCsv } from '../src/csv.ts';
import { NoCommittedOffsetError, ResetUsageError } from '../src/errors.ts';
import { parseDateTime, parseDuration, parseLong, parseTopicArg } from '../src/parse.ts';

describe('--to-datetime (Kafka Utils.getDateTime formats)', () => {
  const utc = Date.UTC(2026, 0, 31, 13, 5, 7, 123);
  it.each([
    ['2026-01-31T13:05:07.123', utc],
    ['2026-01-31T13:05:07.123Z', utc],
    ['2026-01-31T14:05:07.123+01:00', utc],
    ['2026-01-31T14:05:07.123+0100', utc],
    ['2026-01-31T14:05:07.123+01', utc],
    ['2026-01-31T08:35:07.123-04:30', utc],
    ['2026-01-31T13:05:07', utc - 123],
    ['2026-01-31T13:05', utc - 7_123],
    ['2026-01-31T13:05:07.123456', utc],
  ])('%s', (input, ms) => expect(parseDateTime(input)).toBe(ms));

  it.each([
    '2026-01-31',
    '2026-01-31 13:05:07.123',
    '2026-02-30T00:00:00.000',
    '2026-01-31T24:00:00.000',
    'yesterday',
    '',
  ])('rejects %j with a clear message', (input) => expect(() => parseDateTime(input)).toThrow(ResetUsageError));
});

describe('--by-duration (java.time.Duration.parse grammar)', () => {
  const H = 3_600_000;
  it.each([
    ['PT30M', 30 * 60_000],
    ['PT6H', 6 * H],
    ['P1D', 24 * H],
    ['P1DT12H', 36 * H],
    ['pt1h30m', 1.5 * H],
    ['PT1.5S', 1_500],
    ['PT0,25S', 250],
    ['-PT1H', -H],
    ['PT-1H30M', -H + 30 * 60_000],
    ['PT-0.5S', -500],
    ['P2DT3H4M5S', 2 * 24 * H + 3 * H + 4 * 60_000 + 5_000],
  ])('%s', (input, ms) => expect(parseDuration(input)).toBe(ms));

  it.each(['P', 'PT', 'P1DT', '1H', 'P1H', 'PT1D', 'P1W', 'P1Y', 'PT1.S5'])('rejects %j', (input) =>
    expect(() => parseDuration(input)).toThrow(/bad duration/),
  );
});

describe('--topic and numbers', () => {
  it('parses topics with and without partitions', () => {
    expect(parseTopicArg('orders')).toEqual({ topic: 'orders' });
    expect(parseTopicArg('orders:0,2, 5')).toEqual({ topic: 'orders', partitions: [0, 2, 5] });
    expect(() => parseTopicArg('orders:a')).toThrow(/bad partition 'a'/);
    expect(() => parseTopicArg('a:1:2')).toThrow(/expected a topic name and partitions/);
    expect(() => parseTopicArg(':1')).toThrow(ResetUsageError);
  });
  it('parses 64-bit offsets and shifts', () => {
    expect(parseLong('--shift-by', '-3')).toBe(-3n);
    expect(parseLong('--shift-by', '+12')).toBe(12n);
    expect(parseLong('--to-offset', '9223372036854775807')).toBe(9_223_372_036_854_775_807n);
    expect(() => parseLong('--to-offset', '9223372036854775808')).toThrow(/64-bit/);
    expect(() => parseLong('--to-offset', '1e3')).toThrow(/expected an integer/);
  });
});

describe('plan files (Kafka --export / --from-file)', () => {
  it('reads topic,partition,offset and group,topic,partition,offset, quoted or not', () => {
    expect(parseOffsetsCsv('"long.topic.name.over.24.chars",0,8\nraw,1,3\n\n', 'g')).toEqual([
      { topic: 'long.topic.name.over.24.chars', partition: 0, offset: 8n },
      { topic: 'raw', partition: 1, offset: 3n },
    ]);
    expect(parseOffsetsCsv('g1,raw,0,1\ng2,raw,0,2\n', 'g2')).toEqual([
      { group: 'g2', topic: 'raw', partition: 0, offset: 2n },
    ]);
    expect(() => parseOffsetsCsv('g1,raw,0,1\n', 'g3')).toThrow(/no reset plan for group g3 .*g1/);
    expect(() => parseOffsetsCsv('raw,x,1\n', 'g')).toThrow(/line 1: partition 'x'/);
    expect(() => parseOffsetsCsv('raw,0\n', 'g')).toThrow(/line 1: expected topic,partition,offset/);
    expect(() => parseOffsetsCsv('raw,0,1\nraw,1,1.5\n', 'g')).toThrow(/line 2: offset '1.5'/);
  });
  it('writes what Kafka writes: values over 24 characters or with a character below "-" quoted', () => {
    const rows = [
      { topic: 'raw-headlines', partition: 0, target: 5n },
      { topic: 'test.reset.t.w1.mx98tive3d5fe5', partition: 2, target: 0n },
    ];
    expect(formatOffsetsCsv(rows)).toBe('raw-headlines,0,5\n"test.reset.t.w1.mx98tive3d5fe5",2,0\n');
    expect(formatOffsetsCsv(rows.slice(0, 1), { groupId: 'a "b", c' })).toBe('"a ""b"", c",raw-headlines,0,5\n');
    expect(parseOffsetsCsv(formatOffsetsCsv(rows), 'g').map((r) => r.offset)).toEqual([5n, 0n]);
  });
});

describe('option combinations', () => {
  const file = () => 'raw,0,4\n';
  it('needs a group, one scope (except with --from-file) and exactly one mode', () => {
    expect(() => resetRequest({ topic: ['t'], toLatest: true })).toThrow(/--group is required/);
    expect(() => resetRequest({ group: 'g', topic: ['t'] })).toThrow(/give exactly one of --to-earliest/);
    expect(() => resetRequest({ group: 'g', topic: ['t'], toLatest: true, shiftBy: '-1' })).toThrow(
      /conflicting modes --to-latest and --shift-by/,
    );
    expect(() => resetRequest({ group: 'g', toLatest: true })).toThrow(/one scope is required/);
    expect(() => resetRequest({ group: 'g', allTopics: true, topic: ['t'], toLatest: true })).toThrow(/conflict/);
    expect(() => resetRequest({ group: 'g', allTopics: true, toLatest: true, execute: true, dryRun: true })).toThrow(
      /--execute and --dry-run conflict/,
    );
    expect(() => resetRequest({ group: 'g', allTopics: true, toLatest: true, offsetsIn: 'redis' })).toThrow(
      /--offsets-in/,
    );
    expect(resetRequest({ group: 'g', fromFile: 'x.csv' }, file)).toMatchObject({
      groupId: 'g',
      mode: { kind: 'from-file', entries: [{ topic: 'raw', partition: 0, offset: 4n }] },
      execute: false,
    });
    expect(resetRequest({ group: 'g', topic: ['a:1', 'b'], shiftBy: '-5', execute: true })).toMatchObject({
      scope: { kind: 'topics', topics: [{ topic: 'a', partitions: [1] }, { topic: 'b' }] },
      mode: { kind: 'shift-by', by: -5n },
      execute: true,
    });
  });
  it('is a usage error (exit 2) class for every bad value', () => {
    expect(NoCommittedOffsetError.prototype).toBeInstanceOf(ResetUsageError);
    expect(() => resetRequest({ group: 'g', allTopics: true, byDuration: 'six hours' })).toThrow(ResetUsageError);
  });
});
