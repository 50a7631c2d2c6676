// The fused classifier against the real local embedder (all-MiniLM-L6-v2-int8; EMBEDDING_BASE_URL from
// the test stack): `train classify --embeddings` and `eval classify --json` on the bundled fixture, then
// the classify stage (in-memory driver) asking the same embedder through the client + cache.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddingClient, embeddingSettings, MemoryEmbeddingCache } from '@feedlog/embed';
import { runInMemory } from '@feedlog/runtime';
import { type ClassifiedHeadline, sampleRecords } from '@feedlog/schemas';
import { refCodec } from '@feedlog/test';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_FIXTURE } from '../src/default-model.ts';
import { registerClassifyEval } from '../src/eval-cli.ts';
import { isFused, loadAnyClassifyModel, loadDataset, registerClassifyCommands } from '../src/index.ts';
import { classifyStage } from '../src/stage.ts';

const MODEL = 'all-MiniLM-L6-v2-int8';
const dir = mkdtempSync(join(tmpdir(), 'feedlog-fused-it-'));
const artifact = join(dir, 'fixture.flcf');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('fused classifier with the real embedder', () => {
  it('train classify --embeddings writes a fused artifact; eval classify --json scores it', async () => {
    expect(process.env.EMBEDDING_BASE_URL, 'the test stack provides the embedder').toBeTruthy();
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const program = new Command('feedlog').exitOverride();
    registerClassifyCommands(program);
    await program.parseAsync(
      [
        'train',
        'classify',
        '--data',
        DEFAULT_FIXTURE,
        '--embeddings',
        '--embedding-model',
        MODEL,
        '--out',
        artifact,
        '--json',
      ],
      { from: 'user' },
    );
    const res = JSON.parse(out.join('')) as {
      header: { version: string; embedding: { model: string; dims: number } };
      holdout: { full: { accuracy: number; n: number } };
    };
    expect(res.header.embedding).toEqual({ model: MODEL, dims: 384 });
    expect(res.holdout.full.n).toBe(32);
    expect(res.holdout.full.accuracy).toBeGreaterThan(0.5);
    expect(readFileSync(artifact).subarray(0, 8).toString('latin1')).toBe('FLCFUS1\n');
    const m = loadAnyClassifyModel(artifact);
    expect(isFused(m) && m.version).toBe(res.header.version);

    let json = '';
    const p = new Command().exitOverride();
    registerClassifyEval(p, (s) => {
      json += s;
    });
    await p.parseAsync(['node', 'f', 'eval', 'classify', '--data', DEFAULT_FIXTURE, '--model', artifact, '--json']);
    const ev = JSON.parse(json) as { version: string; metrics: { n: number; accuracy: number }; ece: number };
    expect(ev.version).toBe(res.header.version);
    expect(ev.metrics.n).toBe(160);
    expect(ev.metrics.accuracy).toBeGreaterThan(0.8); // its own training rows (refit on all)
    expect(ev.ece).toBeGreaterThanOrEqual(0);
  });

  it('the stage classifies through the embedder; a second pass is answered by the cache', async () => {
    const model = loadAnyClassifyModel(artifact);
    if (!isFused(model)) throw new Error('expected the fused artifact of the previous test');
    const cache = new MemoryEmbeddingCache();
    const client = new EmbeddingClient(
      embeddingSettings({ baseUrl: process.env.EMBEDDING_BASE_URL!, model: MODEL, batchSize: 32 }),
      { cache },
    );
    const ds = loadDataset(DEFAULT_FIXTURE);
    const s = sampleRecords().RawHeadline;
    const inputs = ds.examples.slice(0, 40).map((e, i) => ({
      key: `item-${i}`,
      value: { ...s, item_id: `item-${i}`, headline: { ...s.headline, title: e.title, summary: null } },
    }));
    const run = async () => {
      const stage = classifyStage({ model, embedder: client, now: () => 1 });
      stage.input.codec = refCodec();
      if (stage.output) stage.output.codec = refCodec();
      stage.dlq.codec = refCodec();
      return runInMemory(stage, inputs);
    };
    const first = await run();
    expect(first.dead).toEqual([]);
    expect(first.outputs).toHaveLength(40);
    const cats = first.outputs.map((o) => (o.value as ClassifiedHeadline).classification.category);
    const right = cats.filter((c, i) => c === ds.examples[i]!.label).length;
    expect(right).toBeGreaterThan(32);
    for (const o of first.outputs)
      expect((o.value as ClassifiedHeadline).classification.run.model_version).toBe(model.version);
    const sent = async () => (await client.metrics.requests.get()).values.reduce((a, v) => a + v.value, 0);
    const before = await sent();
    expect(before).toBeGreaterThan(0);
    const second = await run();
    expect(await sent()).toBe(before); // every vector from the cache
    expect(second.outputs.map((o) => (o.value as ClassifiedHeadline).classification)).toEqual(
      first.outputs.map((o) => (o.value as ClassifiedHeadline).classification),
    );
  });
});
