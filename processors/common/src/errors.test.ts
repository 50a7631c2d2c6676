import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  errorCodeOf,
  errorCodes,
  errorCodesMarkdown,
  FeedlogError,
  findErrorBy,
  isErrorCode,
  isRetriable,
} from './errors.ts';

describe('error vocabulary', () => {
  it('README lists exactly the codes of errors.ts', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const m = /<!-- error-codes:start[^>]*-->\n([\s\S]*?)\n<!-- error-codes:end -->/.exec(readme);
    expect(m?.[1]).toBe(errorCodesMarkdown());
  });

  it('every code is FEEDLOG_-prefixed and has a description', () => {
    for (const [code, s] of Object.entries(errorCodes)) {
      expect(code).toMatch(/^FEEDLOG_[A-Z_]+$/);
      expect(s.description.length).toBeGreaterThan(10);
    }
  });

  it('FeedlogError takes retriable from its code', () => {
    expect(new FeedlogError('FEEDLOG_REGISTRY_UNAVAILABLE', 'x').retriable).toBe(true);
    expect(new FeedlogError('FEEDLOG_WIRE_BAD_MAGIC_BYTE', 'x').retriable).toBe(false);
    expect(isErrorCode('FEEDLOG_NOPE')).toBe(false);
  });

  it('findErrorBy follows causes and aggregates, and never throws', () => {
    const inner = new FeedlogError('FEEDLOG_UNKNOWN_SCHEMA_ID', 'inner');
    const outer = new Error('outer', { cause: new AggregateError([new Error('a'), inner]) });
    expect(findErrorBy(outer, 'code', 'FEEDLOG_UNKNOWN_SCHEMA_ID')).toBe(inner);
    expect(errorCodeOf(outer)).toBe('FEEDLOG_UNKNOWN_SCHEMA_ID');
    const cyclic = new Error('c') as Error & { cause?: unknown };
    cyclic.cause = cyclic;
    expect(findErrorBy(cyclic, 'code', 'X')).toBeUndefined();
    const hostile = new Error('h');
    Object.defineProperty(hostile, 'code', {
      get() {
        throw new Error('boom');
      },
    });
    expect(findErrorBy(hostile, 'code', 'X')).toBeUndefined();
    expect(errorCodeOf(hostile)).toBeUndefined();
    for (const v of [undefined, null, 42, 'str', {}]) expect(findErrorBy(v, 'code', 'X')).toBeUndefined();
  });

  it('isRetriable: the code decides, then the error own flag, else false', () => {
    expect(isRetriable(new FeedlogError('FEEDLOG_BREAKER_OPEN', 'x'))).toBe(true);
    expect(isRetriable(Object.assign(new Error('kafkajs'), { retriable: true }))).toBe(true);
    expect(isRetriable(new TypeError('bug'))).toBe(false);
    expect(isRetriable('nope')).toBe(false);
  });
});
