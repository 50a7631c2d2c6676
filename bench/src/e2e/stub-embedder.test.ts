import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { throughputLagSvg } from './chart.ts';
import { startStubEmbedder, stubVector } from './stub-embedder.ts';

describe('stub embedder', () => {
  it('answers the same unit vector for the same text, another for another text', () => {
    const a = stubVector('Fed raises rates', 384);
    const norm = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
    expect(norm).toBeCloseTo(1, 5);
    expect(stubVector('Fed raises rates', 384)).toEqual(a);
    expect(stubVector('Fed cuts rates', 384)).not.toEqual(a);
  });

  it('puts headlines that share words near each other (a sum of word vectors), unrelated ones far', () => {
    const cos = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i]!, 0);
    const a = stubVector('Fed raises interest rates again', 384);
    const near = stubVector('Fed raises interest rates in June', 384);
    const far = stubVector('Apple unveils a new iPhone camera', 384);
    expect(cos(a, near)).toBeGreaterThan(0.6);
    expect(Math.abs(cos(a, far))).toBeLessThan(0.3);
    expect(stubVector('FED, raises rates!', 384)).toEqual(stubVector('fed raises rates', 384));
  });

  it('speaks the OpenAI embeddings contract: base64 float32, one per input, in order; 400 on bad input', async () => {
    const server = await startStubEmbedder(0, 8);
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    try {
      const r = await fetch(`${base}/embeddings`, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', input: ['x', 'y'], encoding_format: 'base64' }),
      });
      const j = (await r.json()) as { model: string; data: { index: number; embedding: string }[] };
      expect(j.model).toBe('m');
      expect(j.data.map((d) => d.index)).toEqual([0, 1]);
      const buf = Buffer.from(j.data[1]?.embedding ?? '', 'base64');
      expect(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4)).toEqual(stubVector('y', 8));
      const bad = await fetch(`${base}/embeddings`, { method: 'POST', body: JSON.stringify({ input: [1] }) });
      expect(bad.status).toBe(400);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('throughput and lag chart', () => {
  it('draws one path per series with its name in the legend, escaped', () => {
    const svg = throughputLagSvg(
      [
        {
          name: 'index <g1>',
          points: [
            [0, 1],
            [1, 5],
          ],
        },
      ],
      [
        {
          name: 'embed',
          points: [
            [0, 100],
            [1, 0],
          ],
        },
      ],
      't',
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain('index &lt;g1&gt;');
    expect(svg).not.toContain('NaN');
  });
});
