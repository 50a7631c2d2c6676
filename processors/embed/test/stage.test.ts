import { Breaker, processBatch, runInMemory, type StageError } from '@feedlog/runtime';
import { bytesToVector, type ClusteredHeadline, type EmbeddedHeadline, sampleRecords } from '@feedlog/schemas';
import { refCodec } from '@feedlog/test';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryEmbeddingCache } from '../src/cache.ts';
import { unit } from '../src/client.ts';
import { embeddingSettings } from '../src/config.ts';
import { embedStage } from '../src/stage.ts';
import { embeddingText } from '../src/text.ts';
import { DIMS, fakeVector, ScriptedServer } from './scripted-server.ts';

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function rec(i: number, title = `Headline ${i} about the markets`, summary: string | null = null): ClusteredHeadline {
  const s = sampleRecords().ClusteredHeadline;
  return { ...s, item_id: `item-${i}`, headline: { ...s.headline, title, summary } };
}

async function makeStage(over: { breakerMs?: number; cache?: MemoryEmbeddingCache; generation?: number } = {}) {
  const server = await ScriptedServer.start();
  servers.push(server);
  const registry = new Registry();
  const stage = embedStage({
    settings: embeddingSettings({
      baseUrl: server.baseUrl,
      model: 'test-model',
      batchSize: 8,
      concurrency: 2,
      initialBackoffMs: 1,
      maxBackoffMs: 5,
    }),
    generation: over.generation ?? 7,
    registry,
    ...(over.cache ? { cache: over.cache } : {}),
    now: () => 1_700_000_000_000,
    config: {
      breaker: { failureThreshold: 3, halfOpenAfterMs: over.breakerMs ?? 50 },
      retry: { initialDelayMs: 1, maxDelayMs: 2 },
    },
  });
  stage.input.codec = refCodec();
  if (!stage.output) throw new Error('the stage has an output topic');
  stage.output.codec = refCodec();
  stage.dlq.codec = refCodec();
  return { server, stage, registry };
}

describe('embed stage (in-memory driver, scripted endpoint)', () => {
  it('a replay (new generation) over the same input with a shared cache sends nothing and writes the same vectors', async () => {
    const cache = new MemoryEmbeddingCache();
    const inputs = Array.from({ length: 12 }, (_, i) => ({ key: `item-${i}`, value: rec(i) }));
    const g1 = await makeStage({ cache, generation: 1 });
    const first = await runInMemory(g1.stage, inputs);
    expect(g1.server.log.flatMap((l) => l.input)).toHaveLength(12);
    const g2 = await makeStage({ cache, generation: 2 });
    const second = await runInMemory(g2.stage, inputs);
    expect(g2.server.log).toHaveLength(0);
    const vectors = (r: typeof first) => r.outputs.map((o) => (o.value as EmbeddedHeadline).embedding.vector);
    expect(vectors(second)).toEqual(vectors(first));
    expect(second.outputs.map((o) => (o.value as EmbeddedHeadline).embedding.run.generation)).toEqual(
      Array(12).fill(2),
    );
    const hits = await g2.registry.getSingleMetric('embedding_cache_hits_total')?.get();
    expect(hits?.values.reduce((a, v) => a + v.value, 0)).toBe(12);
  });

  it('copies the input and adds the vector, dimensions, model and generation', async () => {
    const { stage, server } = await makeStage();
    const inputs = Array.from({ length: 20 }, (_, i) => ({
      key: `item-${i}`,
      value: rec(i, `Headline ${i}`, i % 2 ? `  a   summary\n${i}` : null),
      headers: (i === 3 ? { 'feedlog-op': 'retract' } : {}) as Record<string, string>,
    }));
    const r = await runInMemory(stage, inputs);
    expect(r.dead).toEqual([]);
    expect(r.outputs).toHaveLength(20);
    // 16-record stage batches (8 × 2) as requests of ≤ 8
    expect(server.log.map((l) => l.input.length)).toEqual([8, 8, 4]);
    for (const [i, o] of r.outputs.entries()) {
      const v = o.value as EmbeddedHeadline;
      expect(o.key).toBe(`item-${i}`);
      expect(v.item_id).toBe(`item-${i}`);
      expect(v.story).toEqual(inputs[i]!.value.story);
      expect(v.classification).toEqual(inputs[i]!.value.classification);
      expect(v.headline).toEqual(inputs[i]!.value.headline);
      expect(v.embedding.dimensions).toBe(DIMS);
      expect(v.embedding.normalized).toBe(true);
      expect(v.embedding.run).toEqual({
        model_name: 'test-model',
        model_version: 'test-model',
        generation: 7,
        produced_at: 1_700_000_000_000,
      });
      const text = embeddingText(v.headline);
      expect(text).toBe(i % 2 ? `Headline ${i}\na summary ${i}` : `Headline ${i}`);
      expect(Array.from(bytesToVector(v.embedding.vector, DIMS))).toEqual(Array.from(unit(fakeVector(text)).vector));
      expect(o.headers['feedlog-op']).toBe(i === 3 ? 'retract' : undefined);
    }
  });

  it('dead-letters a record with nothing to embed and one the endpoint refuses alone; the rest go on', async () => {
    const { stage, server } = await makeStage();
    server.script = ({ input }) =>
      input.some((t) => t.includes('refused'))
        ? { status: 400, body: { error: { message: 'too weird', type: 'x', param: 'input', code: null } } }
        : undefined;
    const inputs = Array.from({ length: 10 }, (_, i) => ({ key: `item-${i}`, value: rec(i) }));
    inputs[2] = { key: 'item-2', value: rec(2, '   \n ', null) };
    inputs[6] = { key: 'item-6', value: rec(6, 'this one is refused') };
    const r = await runInMemory(stage, inputs);
    expect(r.outputs.map((o) => o.key)).toEqual([
      'item-0',
      'item-1',
      'item-3',
      'item-4',
      'item-5',
      'item-7',
      'item-8',
      'item-9',
    ]);
    expect(r.dead.map((d) => [d.original_key?.toString(), d.error_class])).toEqual([
      ['item-2', 'PoisonRecordError'],
      ['item-6', 'BadInputError'],
    ]);
  });

  it('an endpoint outage opens the breaker and waits: every record comes out, none dead-lettered', async () => {
    const { stage, server, registry } = await makeStage({ breakerMs: 100 });
    const downUntil = Date.now() + 800;
    server.script = () => (Date.now() < downUntil ? { status: 503 } : undefined);
    const inputs = Array.from({ length: 40 }, (_, i) => ({ key: `item-${i}`, value: rec(i) }));
    const r = await runInMemory(stage, inputs);
    expect(r.dead).toEqual([]);
    expect(r.outputs.map((o) => o.key)).toEqual(inputs.map((i) => i.key));
    const failed = server.log.filter((l) => l.status === 503).length;
    expect(failed).toBeGreaterThan(0);
    // the open breaker held the batches back: far fewer attempts than a retry-per-request loop would make in 800 ms
    expect(failed).toBeLessThan(40);
    const tokens = await registry.getSingleMetric('embedding_tokens_total')?.get();
    expect(tokens?.values[0]?.value).toBe(40 * (5 + 2));
  });
});

describe('embed stage at shutdown (the runtime aborts ctx.signal when a graceful stop begins)', () => {
  async function rawBatch(stage: Awaited<ReturnType<typeof makeStage>>['stage'], n: number) {
    return Promise.all(
      Array.from({ length: n }, async (_, i) => ({
        topic: stage.input.topic,
        partition: 0,
        offset: String(i),
        timestamp: '0',
        key: Buffer.from(`item-${i}`),
        value: await stage.input.codec.encode(rec(i), `${stage.input.topic}-value`),
        headers: {},
      })),
    );
  }
  const breakers = new Map<string, Breaker>();
  const breaker = (name: string) => {
    let b = breakers.get(name);
    if (!b) {
      b = new Breaker(name, { failureThreshold: 3, halfOpenAfterMs: 50 });
      breakers.set(name, b);
    }
    return b;
  };

  it('requests on the wire finish and the batch completes: nothing is dead-lettered', async () => {
    const { stage, server } = await makeStage();
    server.delayMs = 300;
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const r = await processBatch(stage, await rawBatch(stage, 12), { breaker, signal: ac.signal });
    expect(ac.signal.aborted).toBe(true);
    expect(r.dead).toEqual([]);
    expect(r.outputs).toHaveLength(12);
  });

  it('a failing endpoint stops being retried and the batch is abandoned, not dead-lettered', async () => {
    const { stage, server } = await makeStage({ breakerMs: 60_000 });
    server.script = () => ({ status: 503 });
    breakers.clear();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    const t0 = Date.now();
    const failed = await processBatch(stage, await rawBatch(stage, 12), { breaker, signal: ac.signal }).then(
      (r) => r,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(Error);
    expect((failed as StageError).retriable).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});
