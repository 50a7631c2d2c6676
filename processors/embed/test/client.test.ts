import { Breaker, BreakerOpenError, RetriableError } from '@feedlog/runtime';
import { APIError } from 'openai';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { BadInputError, EmbeddingClient, retryAfterMs, unit } from '../src/client.ts';
import { type EmbeddingSettings, embeddingSettings } from '../src/config.ts';
import { freePort } from '../src/embedder-process.ts';
import { DIMS, fakeVector, ScriptedServer } from './scripted-server.ts';

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(over: Partial<EmbeddingSettings> = {}) {
  const server = await ScriptedServer.start();
  servers.push(server);
  const registry = new Registry();
  const settings = embeddingSettings({
    baseUrl: server.baseUrl,
    model: 'test-model',
    initialBackoffMs: 5,
    maxBackoffMs: 20,
    ...over,
  });
  return { server, registry, client: new EmbeddingClient(settings, { registry }) };
}

const texts = (n: number) => Array.from({ length: n }, (_, i) => `headline number ${i}`);

async function counter(registry: Registry, name: string): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric(name)?.get();
  return Object.fromEntries((m?.values ?? []).map((v) => [JSON.stringify(v.labels), v.value]));
}

describe('EmbeddingClient against an OpenAI-shaped server', () => {
  it('splits into requests of at most batchSize, keeps at most `concurrency` in flight, returns unit vectors in input order', async () => {
    const { server, client } = await setup({ batchSize: 10, concurrency: 3 });
    server.delayMs = 40;
    const input = texts(95);
    const r = await client.embed(input);
    expect(server.log.map((l) => l.input.length)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 5]);
    expect(server.maxInFlight).toBe(3);
    expect(server.log.every((l) => l.body.encoding_format === 'base64' && l.body.model === 'test-model')).toBe(true);
    expect(r.requests).toBe(10);
    for (const [i, e] of r.results.entries()) {
      if (e instanceof Error) throw e;
      expect(e.vector).toHaveLength(DIMS);
      expect(e.normalized).toBe(true);
      const want = unit(fakeVector(input[i] as string)).vector;
      for (let j = 0; j < DIMS; j++) expect(e.vector[j]).toBeCloseTo(want[j] as number, 6);
      expect(Math.hypot(...e.vector)).toBeCloseTo(1, 5);
    }
  });

  it('counts tokens from usage.prompt_tokens by model', async () => {
    const { client, registry } = await setup({ batchSize: 4 });
    const r = await client.embed(['a b c', 'd', 'e f', 'g h i j', 'k']);
    // words + 2 per text, as the scripted server counts
    expect(r.promptTokens).toBe(5 + 3 + 4 + 6 + 3);
    expect(await counter(registry, 'embedding_tokens_total')).toEqual({ '{"model":"test-model"}': 21 });
  });

  it('accepts float arrays when the server ignores encoding_format', async () => {
    const { server, client } = await setup();
    server.script = ({ input }) => ({
      status: 200,
      body: {
        object: 'list',
        model: 'x',
        data: input.map((t, index) => ({ object: 'embedding', index, embedding: Array.from(fakeVector(t)) })),
        usage: { prompt_tokens: 1, total_tokens: 1 },
      },
    });
    const r = await client.embed(['one', 'two']);
    const e = r.results[1];
    if (!e || e instanceof Error) throw new Error('expected an embedding');
    expect(Array.from(e.vector)).toEqual(Array.from(unit(fakeVector('two')).vector));
  });

  it('retries 429 after the Retry-After the server sends (seconds and retry-after-ms)', async () => {
    const { server, client, registry } = await setup();
    server.script = ({ n }): { status: number; headers: Record<string, string> } | undefined =>
      n === 0
        ? { status: 429, headers: { 'retry-after': '1' } }
        : n === 1
          ? { status: 429, headers: { 'retry-after-ms': '300' } }
          : undefined;
    const r = await client.embed(['x']);
    expect(r.results[0]).not.toBeInstanceOf(Error);
    const [a, b, c] = server.log;
    expect(server.log.map((l) => l.status)).toEqual([429, 429, 200]);
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(950);
    expect(c!.at - b!.at).toBeGreaterThanOrEqual(280);
    expect(c!.at - b!.at).toBeLessThan(950);
    expect(await counter(registry, 'embedding_retries_total')).toEqual({
      '{"model":"test-model","reason":"http_429"}': 2,
    });
  });

  it('retries 5xx with backoff and gives up with a RetriableError after maxAttempts', async () => {
    const { server, client } = await setup({ maxAttempts: 4 });
    server.script = () => ({ status: 503 });
    await expect(client.embed(['x'])).rejects.toBeInstanceOf(RetriableError);
    expect(server.log).toHaveLength(4);
  });

  it('a 400 about one input is bisected down to that input; the rest are embedded', async () => {
    const { server, client } = await setup({ batchSize: 16 });
    server.script = ({ input }) =>
      input.includes('poison')
        ? {
            status: 400,
            body: { error: { message: 'bad input', type: 'invalid_request_error', param: 'input', code: null } },
          }
        : undefined;
    const input = texts(16);
    input[11] = 'poison';
    const r = await client.embed(input);
    for (const [i, e] of r.results.entries()) {
      if (i === 11) expect(e).toBeInstanceOf(BadInputError);
      else expect(e).not.toBeInstanceOf(Error);
    }
    // 16 → 8 → 4 → 2 → 1: five refused requests, plus the good halves
    expect(server.log.filter((l) => l.status === 400)).toHaveLength(5);
  });

  it('a 404 (unknown model) is not the texts fault: it opens the breaker instead of failing records', async () => {
    const { server, client } = await setup({ maxAttempts: 10 });
    server.script = () => ({
      status: 404,
      body: {
        error: { message: 'no such model', type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
      },
    });
    const breaker = new Breaker('embedder', { failureThreshold: 3, halfOpenAfterMs: 60_000 });
    await expect(client.embed(['x'], { breaker })).rejects.toBeInstanceOf(BreakerOpenError);
    expect(server.log).toHaveLength(3);
    expect(breaker.state).toBe('open');
  });

  it('an endpoint that refuses connections opens the breaker after failureThreshold attempts, then fails fast', async () => {
    const port = await freePort();
    const client = new EmbeddingClient(
      embeddingSettings({
        baseUrl: `http://127.0.0.1:${port}/v1`,
        maxAttempts: 10,
        initialBackoffMs: 1,
        maxBackoffMs: 5,
      }),
      { registry: new Registry() },
    );
    const breaker = new Breaker('embedder', { failureThreshold: 3, halfOpenAfterMs: 60_000 });
    const t0 = Date.now();
    await expect(client.embed(texts(300), { breaker })).rejects.toBeInstanceOf(BreakerOpenError);
    expect(breaker.state).toBe('open');
    expect(Date.now() - t0).toBeLessThan(5_000);
    await expect(client.embed(['x'], { breaker })).rejects.toBeInstanceOf(BreakerOpenError);
  });

  it('parses Retry-After forms', () => {
    const h = (o: Record<string, string>) => new APIError(429, undefined, 'x', new Headers(o));
    expect(retryAfterMs(h({ 'retry-after': '2' }))).toBe(2_000);
    expect(retryAfterMs(h({ 'retry-after-ms': '150', 'retry-after': '9' }))).toBe(150);
    expect(retryAfterMs(h({ 'retry-after': new Date(10_000).toUTCString() }), 4_000)).toBe(6_000);
    expect(retryAfterMs(h({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMs(new Error('x'))).toBeUndefined();
  });
});
