import { readdirSync, readFileSync } from 'node:fs';
import { isRetriable, runInMemory } from '@feedlog/runtime';
import { type ClassifiedHeadline, type RawHeadline, sampleRecords } from '@feedlog/schemas';
import { refCodec } from '@feedlog/test';
import { describe, expect, it } from 'vitest';
import { ensureDefaultModel } from '../src/index.ts';
import { ClassifyPool, ClassifyWorkerError } from '../src/pool.ts';
import { classifyStage, EVENT_TIME_HEADER } from '../src/stage.ts';

const dir = `${process.env.TMPDIR ?? '/tmp'}/feedlog-classify-pool-${process.pid}`;
const model = ensureDefaultModel(dir);
// the fixture's titles, each also cut, joined and lower-cased: a few hundred texts of every length
const titles = readFileSync(new URL('../fixtures/headlines.csv', import.meta.url), 'utf8')
  .split('\n')
  .slice(1)
  .map((l) => l.slice(l.indexOf(',') + 1).replace(/^"|"$/g, ''))
  .filter(Boolean);
const texts = [
  ...titles,
  ...titles.map((t) => t.slice(0, 12)),
  ...titles.map((t, i) => `${t} ${titles[(i + 7) % titles.length]}`.toLowerCase()),
  'é 日本語 ünïcödé — “quotes”',
];

function raw(i: number, title: string): RawHeadline {
  const s = sampleRecords().RawHeadline;
  return { ...s, item_id: `item-${i}`, headline: { ...s.headline, title, summary: null } };
}
function withRefCodecs<S extends ReturnType<typeof classifyStage>>(stage: S): S {
  stage.input.codec = refCodec();
  if (stage.output) stage.output.codec = refCodec();
  stage.dlq.codec = refCodec();
  return stage;
}
/** OS threads of this process (Linux) */
const threads = () => readdirSync('/proc/self/task').length;

describe('the classify pool (the n-gram model on worker threads)', () => {
  it('predicts exactly what the model predicts on this thread, split over several threads', async () => {
    const pool = new ClassifyPool(model, { size: 2, minChunk: 50 });
    try {
      const p = await pool.predict(texts);
      const here = model.predict(texts);
      expect(Array.from(p.category, (c) => model.labels[c])).toEqual(here.map((h) => h.category));
      expect(Array.from(p.confidence)).toEqual(here.map((h) => h.confidence));
      expect(await pool.predict([])).toEqual({ category: new Uint16Array(0), confidence: new Float64Array(0) });
    } finally {
      await pool.close();
    }
  });

  it('fails the jobs of a thread that dies with a retriable ClassifyWorkerError, and is refused once closed', async () => {
    const pool = new ClassifyPool(model, { size: 1, entry: new URL('./fixtures/exit-worker.mjs', import.meta.url) });
    const err = await pool.predict(['a headline']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClassifyWorkerError);
    expect(isRetriable(err)).toBe(true);
    expect((err as Error).message).toMatch(/exited with code 7/);
    // a new thread for the next call (it dies too: this entry always does), not a hang
    await expect(pool.predict(['another'])).rejects.toThrow(/exited with code 7/);
    await pool.close();
    await expect(pool.predict(['late'])).rejects.toThrow(/closed/);
  });

  it.runIf(process.platform === 'linux')(
    'the stage with workers gives the in-thread outputs and ends its threads on close',
    async () => {
      const inputs = [...titles, ''].map((t, i) => ({ key: `k${i}`, value: raw(i, t) }));
      const inThread = withRefCodecs(classifyStage({ model, workers: 0, now: () => 1 }));
      const before = threads();
      const pooled = withRefCodecs(classifyStage({ model, workers: 2, now: () => 1 }));
      expect(threads()).toBe(before); // nothing started until the first batch
      const a = await runInMemory(inThread, inputs);
      const b = await runInMemory(pooled, inputs);
      expect(threads()).toBeGreaterThanOrEqual(before + 1);
      expect(b.outputs.map((o) => o.value as ClassifiedHeadline)).toEqual(a.outputs.map((o) => o.value));
      const eventTime = (o: { headers: Record<string, unknown> }) => String(o.headers[EVENT_TIME_HEADER]);
      expect(b.outputs.map(eventTime)).toEqual(a.outputs.map(eventTime));
      expect(b.dead.map((d) => d.error_message)).toEqual(['record has neither a title nor a summary to classify']);
      await pooled.close?.();
      expect(threads()).toBe(before);
    },
  );
});
