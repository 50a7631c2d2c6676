// 32-bit hashing used by the feature extractor. FNV-1a over UTF-16 code units plus a murmur3 finaliser,
// so nearby strings spread over the buckets. Pure integer maths: identical on every machine.

export const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export function fnvStep(h: number, code: number): number {
  return Math.imul(h ^ code, FNV_PRIME) >>> 0;
}

/** murmur3 fmix32: a bijective avalanche step. */
export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function hashString(s: string, seed = 0): number {
  let h = (FNV_OFFSET ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = fnvStep(h, s.charCodeAt(i));
  return fmix32(h);
}

/** Order-dependent combination of two hashes (for word bigrams). */
export function combine(a: number, b: number, seed: number): number {
  return fmix32((Math.imul(a, 0x9e3779b1) ^ (b + seed + 0x7f4a7c15)) >>> 0);
}
