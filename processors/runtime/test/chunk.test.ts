// Produce requests of a transaction cut by size (MESSAGE_TOO_LARGE, kafkajs' quadratic grouping):
// nothing lost, nothing reordered, every chunk within its bounds.
import { describe, expect, it } from 'vitest';
import { chunkMessages } from '../src/eos.ts';

const msgs = (n: number, bytes: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({
    key: Buffer.from(`${tag}${i}`),
    value: Buffer.alloc(bytes),
    headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
  }));

describe('chunkMessages', () => {
  it('keeps every message in order, topics in order, within the byte and count bounds', () => {
    const input = [
      { topic: 'out', messages: msgs(3_800, 200, 'o') },
      { topic: 'dlq', messages: msgs(3, 5_000, 'd') },
      { topic: 'changelog', messages: msgs(10, 100, 'c') },
    ];
    const chunks = chunkMessages(input, 64 * 1024, 500);
    expect(chunks.length).toBeGreaterThan(3_800 / 500);
    const flat = chunks.flatMap((c) => c.flatMap((t) => t.messages.map((m) => `${t.topic}:${String(m.key)}`)));
    expect(flat).toEqual(input.flatMap((t) => t.messages.map((m) => `${t.topic}:${String(m.key)}`)));
    for (const c of chunks) {
      const n = c.reduce((s, t) => s + t.messages.length, 0);
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThanOrEqual(500);
      const bytes = c.reduce(
        (s, t) => s + t.messages.reduce((b, m) => b + (m.value as Buffer).length + (m.key as Buffer).length + 70, 0),
        0,
      );
      expect(bytes).toBeLessThanOrEqual(64 * 1024 + 100);
      // a topic appears once per chunk (kafkajs keys a request's messages by topic)
      expect(new Set(c.map((t) => t.topic)).size).toBe(c.length);
    }
  });

  it('gives a message larger than the bound a chunk of its own, and nothing for nothing', () => {
    const big = { topic: 'out', messages: [...msgs(1, 10, 'a'), ...msgs(1, 100_000, 'b'), ...msgs(1, 10, 'c')] };
    expect(chunkMessages([big], 1_000).map((c) => c[0]?.messages.length)).toEqual([1, 1, 1]);
    expect(chunkMessages([{ topic: 'out', messages: [] }])).toEqual([]);
  });
});
