// The real `openai` npm client against a listening embedder with both real models.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosine } from '../reference/ref.ts';
import { buildEmbedderApp, type EmbedderApp } from '../src/app.ts';
import { MODELS } from '../src/models.ts';
import { loadModels } from '../src/models-load.ts';

const [L6, L3] = Object.keys(MODELS) as [string, string];
let app: EmbedderApp | undefined;
let client: OpenAI;
let skip = '';

beforeAll(async () => {
  try {
    const models = await loadModels([L6, L3], { sessions: 1 });
    app = await buildEmbedderApp({ models, defaultModel: L6 });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    client = new OpenAI({ baseURL: `${address}/v1`, apiKey: 'not-checked', maxRetries: 0 });
  } catch (e) {
    skip = String(e);
    console.warn(`[embedder openai-client] SKIPPED: models not available: ${skip}`);
  }
}, 300_000);
afterAll(async () => {
  await app?.close();
});

const floats = (v: unknown): number[] => {
  expect(Array.isArray(v)).toBe(true);
  return v as number[];
};
const norm = (v: number[]) => Math.hypot(...v);
const f32 = (v: number[]) => Float32Array.from(v);

describe('openai client → local embedder', () => {
  it('embeddings.create with encoding_format float returns unit vectors of the native size', async () => {
    if (skip) return;
    const res = await client.embeddings.create({
      model: L6,
      input: ['Fed holds interest rates steady', 'Apple unveils new iPhone'],
      encoding_format: 'float',
    });
    expect(res.object).toBe('list');
    expect(res.model).toBe(L6);
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    for (const d of res.data) {
      expect(floats(d.embedding)).toHaveLength(384);
      expect(norm(d.embedding)).toBeCloseTo(1, 5);
    }
    expect(res.usage.prompt_tokens).toBeGreaterThan(10);
    expect(res.usage.total_tokens).toBe(res.usage.prompt_tokens);
  });

  it('base64 (explicit, and the client default that decodes it) equals float', async () => {
    if (skip) return;
    const input = 'Oil prices fall as supply rises';
    const asFloat = await client.embeddings.create({ model: L6, input, encoding_format: 'float' });
    const asB64 = await client.embeddings.create({ model: L6, input, encoding_format: 'base64' });
    const b64 = asB64.data[0]!.embedding as unknown as string;
    expect(typeof b64).toBe('string');
    const buf = Buffer.from(b64, 'base64');
    const decoded = Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(i * 4));
    expect(decoded).toEqual(asFloat.data[0]!.embedding);
    const byDefault = await client.embeddings.create({ model: L6, input });
    expect(Array.from(byDefault.data[0]!.embedding)).toEqual(asFloat.data[0]!.embedding);
  });

  it('both models are real sentence models: a paraphrase is closer than an unrelated headline', async () => {
    if (skip) return;
    const input = [
      'Stocks surge after central bank cuts rates',
      'Shares jump as the central bank lowers interest rates',
      'Scientists discover water on a distant moon',
    ];
    for (const model of [L6, L3]) {
      const [a, b, c] = (await client.embeddings.create({ model, input, encoding_format: 'float' })).data.map((d) =>
        f32(d.embedding),
      ) as [Float32Array, Float32Array, Float32Array];
      expect(cosine(a, b)).toBeGreaterThan(cosine(a, c) + 0.2);
    }
    const six = (await client.embeddings.create({ model: L6, input: input[0]!, encoding_format: 'float' })).data[0]!;
    const three = (await client.embeddings.create({ model: L3, input: input[0]!, encoding_format: 'float' })).data[0]!;
    expect(cosine(f32(six.embedding), f32(three.embedding))).toBeLessThan(0.99);
  });

  it('errors arrive as the client error classes with OpenAI fields', async () => {
    if (skip) return;
    const notFound = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }).catch((e) => e);
    expect(notFound).toBeInstanceOf(OpenAI.NotFoundError);
    expect(notFound.code).toBe('model_not_found');
    const dims = await client.embeddings.create({ model: L6, input: 'x', dimensions: 256 }).catch((e) => e);
    expect(dims).toBeInstanceOf(OpenAI.BadRequestError);
    expect(dims.param).toBe('dimensions');
    const ok = await client.embeddings.create({ model: L6, input: 'x', dimensions: 384, encoding_format: 'float' });
    expect(ok.data[0]!.embedding).toHaveLength(384);
    expect((await client.models.list()).data.map((m) => m.id)).toEqual([L6, L3]);
  });

  it('concurrent client requests are merged into fewer model calls', async () => {
    if (skip) return;
    const before = app!.batchers.get(L3)!.stats.modelCalls;
    const texts = Array.from({ length: 16 }, (_, i) => `Headline ${i}: markets move on news`);
    const results = await Promise.all(
      texts.map((input) => client.embeddings.create({ model: L3, input, encoding_format: 'float' })),
    );
    const calls = app!.batchers.get(L3)!.stats.modelCalls - before;
    expect(results).toHaveLength(16);
    expect(calls).toBeLessThan(16);
    // a merged call gives the same vector as embedding the text alone
    const alone = await client.embeddings.create({ model: L3, input: texts[5]!, encoding_format: 'float' });
    expect(cosine(f32(alone.data[0]!.embedding), f32(results[5]!.data[0]!.embedding))).toBeGreaterThan(0.99999);
  });
});
