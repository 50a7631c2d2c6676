import { describe, expect, it } from 'vitest';
import { jsonDepth, jsonOverLimits } from './json-depth.ts';

const limits = { maxDepth: 3, maxValues: 10 };
const over = (s: string) => jsonOverLimits(Buffer.from(s), limits);

describe('JSON bounds before parsing', () => {
  it('counts nesting and values outside strings only', () => {
    expect(over('{"a":[1,2,{"b":"[[[[,,,,"}]}')).toBeUndefined();
    expect(over('[[[[1]]]]')).toBe('depth');
    expect(over(`[${'1,'.repeat(11)}1]`)).toBe('values');
    // escaped quotes and backslashes inside strings
    expect(over('["a\\"[[[[", "b\\\\", [[1]]]')).toBeUndefined();
    expect(over('["a\\\\"], [[[[1]]]]')).toBe('depth');
    expect(jsonDepth('[[1],"[[["]', 5)).toBe(2);
    expect(jsonDepth('[[[1]]]', 2)).toBe(-1);
  });
});
