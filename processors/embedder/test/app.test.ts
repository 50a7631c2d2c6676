import { afterEach, describe, expect, it } from 'vitest';
import { buildEmbedderApp, type EmbedderApp, type EmbedderAppOptions } from '../src/app.ts';
import { FakeModel } from './fake-model.ts';

let app: EmbedderApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(models: FakeModel[], opts: Partial<EmbedderAppOptions> = {}) {
  app = await buildEmbedderApp({ models, ...opts });
  return app;
}

const post = (a: EmbedderApp, body: unknown) =>
  a.inject({ method: 'POST', url: '/v1/embeddings', payload: body as Record<string, unknown> });

function decodeBase64(s: string): number[] {
  const b = Buffer.from(s, 'base64');
  return Array.from({ length: b.length / 4 }, (_, i) => b.readFloatLE(i * 4));
}

describe('POST /v1/embeddings', () => {
  it('answers a string input with an OpenAI-shaped list and counts prompt tokens', async () => {
    const m = new FakeModel();
    const a = await build([m]);
    const res = await post(a, { input: 'markets rally on rate hopes', model: 'fake-model' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['data', 'model', 'object', 'usage']);
    expect(body.object).toBe('list');
    expect(body.model).toBe('fake-model');
    expect(body.data).toHaveLength(1);
    expect(body.data[0].object).toBe('embedding');
    expect(body.data[0].index).toBe(0);
    const expected = Array.from(m.vectorOf(m.tokenizer.encode('markets rally on rate hopes')));
    expect(body.data[0].embedding).toEqual(expected);
    // 5 words + [CLS] + [SEP]
    expect(body.usage).toEqual({ prompt_tokens: 7, total_tokens: 7 });
  });

  it('keeps the order of an array input and returns base64 as little-endian float32', async () => {
    const m = new FakeModel();
    const a = await build([m]);
    const input = ['one', 'two words', 'three little words', 'one'];
    const float = (await post(a, { input, model: 'fake-model', encoding_format: 'float' })).json();
    const b64 = (await post(a, { input, model: 'fake-model', encoding_format: 'base64' })).json();
    expect(float.data.map((d: { index: number }) => d.index)).toEqual([0, 1, 2, 3]);
    input.forEach((text, i) => {
      const want = Array.from(m.vectorOf(m.tokenizer.encode(text)));
      expect(float.data[i].embedding).toEqual(want);
      expect(typeof b64.data[i].embedding).toBe('string');
      expect(decodeBase64(b64.data[i].embedding)).toEqual(want);
    });
    expect(float.data[0].embedding).toEqual(float.data[3].embedding);
    expect(float.data[0].embedding).not.toEqual(float.data[1].embedding);
    expect(float.usage.prompt_tokens).toBe(3 + 4 + 5 + 3);
  });

  it('accepts token arrays (the model vocabulary) and truncates them like text', async () => {
    const m = new FakeModel();
    const a = await build([m]);
    const one = (await post(a, { input: [5, 6, 7], model: 'fake-model' })).json();
    expect(one.data).toHaveLength(1);
    expect(one.data[0].embedding).toEqual(Array.from(m.vectorOf([101, 5, 6, 7, 102])));
    const many = (await post(a, { input: [[5], Array.from({ length: 40 }, (_, i) => i)], model: 'fake-model' })).json();
    expect(many.data).toHaveLength(2);
    expect(many.usage.prompt_tokens).toBe(3 + 16);
    const bad = await post(a, { input: [5, 100000], model: 'fake-model' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.param).toBe('input');
  });

  it('uses the default model when none is named, and allows dimensions equal to the native size', async () => {
    const a = await build(
      [new FakeModel(), new FakeModel({ name: 'other', dimensions: 4, maxTokens: 8, upstream: 't' })],
      {
        defaultModel: 'other',
      },
    );
    const res = (await post(a, { input: 'x', dimensions: 4 })).json();
    expect(res.model).toBe('other');
    expect(res.data[0].embedding).toHaveLength(4);
    const res2 = (await post(a, { input: 'x', model: 'fake-model', dimensions: 8 })).json();
    expect(res2.data[0].embedding).toHaveLength(8);
  });
});

describe('errors are shaped like OpenAI: {error: {message, type, param, code}}', () => {
  const cases: [string, unknown, number, string | null][] = [
    ['missing input', { model: 'fake-model' }, 400, 'input'],
    ['empty string', { model: 'fake-model', input: '' }, 400, 'input'],
    ['empty string inside an array', { model: 'fake-model', input: ['ok', ''] }, 400, 'input[1]'],
    ['empty array', { model: 'fake-model', input: [] }, 400, 'input'],
    ['too many inputs', { model: 'fake-model', input: Array.from({ length: 2049 }, () => 'x') }, 400, 'input'],
    ['wrong input type', { model: 'fake-model', input: { text: 'x' } }, 400, 'input'],
    ['mixed array', { model: 'fake-model', input: ['x', 3] }, 400, 'input[1]'],
    ['bad encoding_format', { model: 'fake-model', input: 'x', encoding_format: 'int8' }, 400, 'encoding_format'],
    ['truncated dimensions', { model: 'fake-model', input: 'x', dimensions: 4 }, 400, 'dimensions'],
    ['non-integer dimensions', { model: 'fake-model', input: 'x', dimensions: 'all' }, 400, 'dimensions'],
    ['model not a string', { model: 7, input: 'x' }, 400, 'model'],
    ['unknown model', { model: 'text-embedding-3-small', input: 'x' }, 404, 'model'],
  ];
  it.each(cases)('%s', async (_, body, status, param) => {
    const m = new FakeModel();
    const a = await build([m]);
    const res = await post(a, body);
    expect(res.statusCode).toBe(status);
    const { error } = res.json();
    expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(error.type).toBe('invalid_request_error');
    expect(error.param).toBe(param);
    expect(error.message.length).toBeGreaterThan(10);
    if (status === 404) expect(error.code).toBe('model_not_found');
    expect(m.calls).toHaveLength(0);
  });

  it('malformed JSON is a 400, an unknown route a 404, both in the same shape', async () => {
    const a = await build([new FakeModel()]);
    const bad = await a.inject({
      method: 'POST',
      url: '/v1/embeddings',
      headers: { 'content-type': 'application/json' },
      payload: '{"input": ',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.type).toBe('invalid_request_error');
    const nf = await a.inject({ method: 'POST', url: '/v1/embedding' });
    expect(nf.statusCode).toBe(404);
    expect(nf.json().error.message).toMatch(/Invalid URL/);
  });

  it('a body over the limit is a 413', async () => {
    const a = await build([new FakeModel()], { bodyLimit: 1024 });
    const res = await post(a, { model: 'fake-model', input: 'x'.repeat(4096) });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('request_too_large');
  });

  it('a model failure is a 500 server_error', async () => {
    const m = new FakeModel();
    m.fail = new Error('session crashed');
    const a = await build([m]);
    const res = await post(a, { model: 'fake-model', input: 'x' });
    expect(res.statusCode).toBe(500);
    expect(res.json().error).toMatchObject({ type: 'server_error', param: null });
    expect(res.json().error.message).toMatch(/session crashed/);
  });

  it('a full queue is a 429 with Retry-After, and the queued work still completes', async () => {
    const m = new FakeModel();
    m.delayMs = 50;
    const a = await build([m], { batcher: { maxQueued: 4, maxBatch: 2, maxWaitMs: 0 }, retryAfterSeconds: 2 });
    const first = post(a, { model: 'fake-model', input: ['a', 'b', 'c', 'd'] });
    await new Promise((r) => setTimeout(r, 5));
    const second = await post(a, { model: 'fake-model', input: ['e', 'f', 'g'] });
    expect(second.statusCode).toBe(429);
    expect(second.headers['retry-after']).toBe('2');
    expect(second.json().error.code).toBe('rate_limit_exceeded');
    expect((await first).statusCode).toBe(200);
  });
});

describe('models and health', () => {
  it('lists the models and looks one up', async () => {
    const a = await build([
      new FakeModel(),
      new FakeModel({ name: 'other', dimensions: 4, maxTokens: 8, upstream: 't' }),
    ]);
    const list = (await a.inject({ method: 'GET', url: '/v1/models' })).json();
    expect(list.object).toBe('list');
    expect(list.data.map((d: { id: string }) => d.id)).toEqual(['fake-model', 'other']);
    expect(list.data[1]).toMatchObject({ object: 'model', owned_by: 'feedlog', dimensions: 4 });
    expect((await a.inject({ method: 'GET', url: '/v1/models/other' })).json().id).toBe('other');
    const missing = await a.inject({ method: 'GET', url: '/v1/models/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('model_not_found');
    const health = (await a.inject({ method: 'GET', url: '/healthz' })).json();
    expect(health.status).toBe('ok');
    expect(Object.keys(health.models)).toEqual(['fake-model', 'other']);
  });
});

describe('dynamic batching', () => {
  it('merges concurrent requests into few model calls, each answer still its own', async () => {
    const m = new FakeModel();
    m.delayMs = 20;
    const a = await build([m], { batcher: { maxBatch: 64, maxWaitMs: 5 } });
    const texts = Array.from({ length: 24 }, (_, i) => `headline number ${i} ${'w '.repeat(i % 5)}`);
    const responses = await Promise.all(texts.map((t) => post(a, { model: 'fake-model', input: t })));
    for (const [i, r] of responses.entries()) {
      expect(r.statusCode).toBe(200);
      expect(r.json().data[0].embedding).toEqual(Array.from(m.vectorOf(m.tokenizer.encode(texts[i]!))));
    }
    // 24 requests: without batching 24 calls; with it, the first wait bound gathers them.
    expect(m.calls.length).toBeLessThanOrEqual(3);
    expect(m.calls.flat()).toHaveLength(24);
    expect(a.batchers.get('fake-model')!.stats.modelCalls).toBe(m.calls.length);
  });

  it('an idle model waits up to maxWaitMs for company; with no wait each request runs alone', async () => {
    for (const [wait, calls] of [
      [20, 1],
      [0, 2],
    ] as const) {
      const m = new FakeModel();
      m.delayMs = 30;
      const a = await build([m], { batcher: { maxWaitMs: wait } });
      const first = post(a, { model: 'fake-model', input: 'first' });
      await new Promise((r) => setTimeout(r, 3));
      const second = post(a, { model: 'fake-model', input: 'second' });
      await Promise.all([first, second]);
      expect({ wait, calls: m.calls.length }).toEqual({ wait, calls });
      await a.close();
      app = undefined;
    }
  });

  it('respects the batch size bound and keeps `parallelism` calls in flight', async () => {
    const m = new FakeModel(undefined, 2);
    m.delayMs = 20;
    const a = await build([m], { batcher: { maxBatch: 8, maxWaitMs: 2 } });
    const res = await post(a, { model: 'fake-model', input: Array.from({ length: 40 }, (_, i) => `t${i}`) });
    expect(res.json().data).toHaveLength(40);
    expect(Math.max(...m.calls.map((c) => c.length))).toBeLessThanOrEqual(8);
    expect(m.calls.flat()).toHaveLength(40);
    expect(m.maxRunning).toBe(2);
  });

  it('spreads one request over both sessions instead of one big call', async () => {
    const m = new FakeModel(undefined, 2);
    const a = await build([m], { batcher: { maxBatch: 64, maxWaitMs: 2 } });
    await post(a, { model: 'fake-model', input: Array.from({ length: 20 }, (_, i) => `t${i}`) });
    expect(m.calls.map((c) => c.length)).toEqual([10, 10]);
  });
});
