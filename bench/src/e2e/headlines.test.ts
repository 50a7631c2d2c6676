import { describe, expect, it } from 'vitest';
import { nthItem } from './headlines.ts';

describe('nthItem', () => {
  it('cycles the rows with a guid and a title unique to each pushed item and run', () => {
    const set = { dataset: 't', rows: [{ source: 's', url: 'u', title: 'Fed raises rates' }] };
    const items = Array.from({ length: 50 }, (_, n) => nthItem(set, 'run-1a2b', n));
    expect(new Set(items.map((i) => i.title)).size).toBe(50);
    expect(new Set(items.map((i) => i.guid)).size).toBe(50);
    expect(items[37]?.title).toBe('Fed raises rates [1a2b.11]');
    expect(nthItem(set, 'run-3c4d', 37).title).not.toBe(items[37]?.title);
  });
});
