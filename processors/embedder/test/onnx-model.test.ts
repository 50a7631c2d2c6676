// The ONNX model wrapper with a real model: worker threads, event loop kept free, crash recovery.
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../src/fetch.ts';
import { OnnxSentenceModel } from '../src/onnx-model.ts';

let model: OnnxSentenceModel | undefined;
beforeAll(async () => {
  try {
    model = await OnnxSentenceModel.load(await ensureModel('paraphrase-MiniLM-L3-v2'), { sessions: 2 });
  } catch (e) {
    console.warn(`[embedder onnx-model] SKIPPED: model not available: ${e}`);
  }
}, 300_000);
afterAll(async () => {
  await model?.close();
});

const rows = (m: OnnxSentenceModel, texts: string[]) => texts.map((t) => m.tokenizer.encode(t));
const texts = Array.from({ length: 64 }, (_, i) => `Markets move as investors weigh report number ${i}`);

describe('OnnxSentenceModel', () => {
  it('gives the same unit vector for a row alone and inside a padded batch', async () => {
    if (!model) return;
    const batch = await model.embed(rows(model, ['short', 'a much longer headline about interest rates and growth']));
    const alone = await model.embed(rows(model, ['short']));
    expect(batch).toHaveLength(2);
    expect(batch[0]!.length).toBe(384);
    expect(Math.hypot(...batch[0]!)).toBeCloseTo(1, 5);
    for (let d = 0; d < 384; d++) expect(batch[0]![d]).toBeCloseTo(alone[0]![d]!, 5);
  });

  it('length buckets: a mixed-length batch gives each row its one-at-a-time vector, in input order', async () => {
    if (!model) return;
    // Lengths from 3 to ~60 word pieces, interleaved so sorting really moves rows around.
    const words = 'central bank signals a slower pace of rate cuts as inflation data surprise markets'.split(' ');
    const mixed = Array.from({ length: 40 }, (_, i) => {
      const n = 1 + ((i * 7) % 40);
      return Array.from({ length: n }, (_, k) => words[(k + i) % words.length]).join(' ');
    });
    const input = rows(model, mixed);
    expect(new Set(input.map((r) => r.length)).size).toBeGreaterThan(20);
    const together = await model.embed(input); // default buckets of 16: three sorted groups of 14/13/13
    const alone: Float32Array[][] = [];
    for (const r of input) alone.push(await model.embed([r])); // one call per session at a time
    expect(together).toHaveLength(mixed.length);
    let worst = 0;
    together.forEach((v, i) => {
      for (let d = 0; d < v.length; d++) worst = Math.max(worst, Math.abs(v[d]! - alone[i]![0]![d]!));
    });
    expect(worst).toBeLessThan(1e-6);
  });

  it('runs inference off the main thread: timers keep firing during a call', async () => {
    if (!model) return;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const t0 = performance.now();
    await Promise.all([model.embed(rows(model, texts)), model.embed(rows(model, texts))]);
    const ms = performance.now() - t0;
    clearInterval(timer);
    // a blocked event loop would give ~0 ticks however long the calls took
    if (ms > 100) expect(ticks).toBeGreaterThan(ms / 5 / 4);
  });

  it('replaces a worker that died and keeps serving', async () => {
    if (!model) return;
    const workers = (model as unknown as { workers: { worker: Worker }[] }).workers;
    await Promise.all(workers.map((w) => w.worker.terminate()));
    const out = await model.embed(rows(model, ['after the crash']));
    expect(out[0]!.length).toBe(384);
    expect(model.restarts).toBeGreaterThanOrEqual(1);
  });
});
