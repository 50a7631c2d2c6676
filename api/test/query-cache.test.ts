import { describe, expect, it } from 'vitest';
import type { QueryEmbedder } from '../src/plugins/embedder.ts';
import { CachedQueryEmbedder } from '../src/query-cache.ts';

/** an embedder that counts its calls and answers when told to */
function countingEmbedder() {
  const calls: string[] = [];
  let fail = false;
  const pending: (() => void)[] = [];
  const e: QueryEmbedder & { calls: string[]; failNext(): void; release(): void } = {
    calls,
    failNext: () => {
      fail = true;
    },
    release: () => {
      for (const r of pending.splice(0)) r();
    },
    async embed(text, model) {
      calls.push(`${model}:${text}`);
      await new Promise<void>((r) => pending.push(r));
      if (fail) {
        fail = false;
        throw new Error('embedder down');
      }
      return Float32Array.from([text.length, model.length]);
    },
    async check() {},
  };
  return e;
}

describe('query embedding cache', () => {
  it('identical concurrent queries make one embedder call; a repeat is served from the cache', async () => {
    const inner = countingEmbedder();
    const cached = new CachedQueryEmbedder(inner);
    const all = Promise.all(Array.from({ length: 10 }, () => cached.embed('fed rates', 'm1')));
    await new Promise((r) => setImmediate(r));
    inner.release();
    const vectors = await all;
    expect(inner.calls).toEqual(['m1:fed rates']);
    expect(new Set(vectors).size).toBe(1);
    expect(Array.from(await cached.embed('fed rates', 'm1'))).toEqual([9, 2]);
    expect(inner.calls).toHaveLength(1);
  });

  it('the key is model + text: another model or another text is another call', async () => {
    const inner = countingEmbedder();
    const cached = new CachedQueryEmbedder(inner);
    const all = Promise.all([cached.embed('oil', 'm1'), cached.embed('oil', 'm2'), cached.embed('gas', 'm1')]);
    await new Promise((r) => setImmediate(r));
    inner.release();
    await all;
    expect(inner.calls.sort()).toEqual(['m1:gas', 'm1:oil', 'm2:oil']);
  });

  it('a failed call is not cached: every waiter sees the error, the next query calls again', async () => {
    const inner = countingEmbedder();
    const cached = new CachedQueryEmbedder(inner);
    inner.failNext();
    const both = Promise.allSettled([cached.embed('storm', 'm1'), cached.embed('storm', 'm1')]);
    await new Promise((r) => setImmediate(r));
    inner.release();
    expect((await both).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    const again = cached.embed('storm', 'm1');
    await new Promise((r) => setImmediate(r));
    inner.release();
    expect(Array.from(await again)).toEqual([5, 2]);
    expect(inner.calls).toEqual(['m1:storm', 'm1:storm']);
  });

  it('keeps at most max vectors, the least recently used leaving first', async () => {
    const inner: QueryEmbedder & { n: number } = {
      n: 0,
      async embed(text) {
        this.n++;
        return Float32Array.from([text.length]);
      },
      async check() {},
    };
    const cached = new CachedQueryEmbedder(inner, { max: 2 });
    await cached.embed('a', 'm');
    await cached.embed('b', 'm');
    await cached.embed('a', 'm'); // a is now the most recent
    await cached.embed('c', 'm'); // b leaves
    expect(inner.n).toBe(3);
    await cached.embed('a', 'm');
    expect(inner.n).toBe(3);
    await cached.embed('b', 'm');
    expect(inner.n).toBe(4);
  });
});
