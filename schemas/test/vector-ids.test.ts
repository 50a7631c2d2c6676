import { describe, expect, it } from 'vitest';
import { canonicalUrl, itemId } from '../src/ids.ts';
import { bytesToVector, vectorToBytes } from '../src/vector.ts';

describe('vector bytes', () => {
  it('packs float32 little-endian and unpacks from an unaligned view', () => {
    const v = Float32Array.from([1, -2.5, 0.1, 3e-8]);
    const bytes = vectorToBytes(v);
    expect(bytes.length).toBe(16);
    expect(bytes.readFloatLE(4)).toBe(-2.5);
    const unaligned = Buffer.concat([Buffer.from([9]), bytes]).subarray(1);
    expect(unaligned.byteOffset % 4).not.toBe(0);
    expect(bytesToVector(unaligned, 4)).toEqual(v);
    expect(bytesToVector(vectorToBytes([0.5, 0.25]))).toEqual(Float32Array.from([0.5, 0.25]));
  });

  it('rejects a length that is not 4 * dimensions', () => {
    expect(() => bytesToVector(Buffer.alloc(6))).toThrow(RangeError);
    expect(() => bytesToVector(Buffer.alloc(8), 3)).toThrow(/record says 3/);
  });
});

describe('item ids', () => {
  it('are stable across tracking parameters, fragments and parameter order', () => {
    const a = itemId({ source: 's', url: 'https://Example.org/a?b=2&a=1&utm_source=x#top' });
    const b = itemId({ source: 's', url: 'https://example.org/a?a=1&b=2' });
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(canonicalUrl('https://example.org:443/a?fbclid=1')).toBe('https://example.org/a');
  });

  it('prefer the guid, and differ by source', () => {
    const x = itemId({ source: 's', guid: 'g1', url: 'https://e.org/1' });
    expect(itemId({ source: 's', guid: 'g1', url: 'https://e.org/other' })).toBe(x);
    expect(itemId({ source: 't', guid: 'g1', url: 'https://e.org/1' })).not.toBe(x);
    expect(itemId({ source: 's', guid: null, url: 'https://e.org/1' })).not.toBe(x);
  });
});
