import { setTimeout as sleep } from 'node:timers/promises';
import { embeddingText } from '@feedlog/embed';
import type { RawRecord, StageContext, StageRecord } from '@feedlog/runtime';
import { type ClassifiedHeadline, serdeFor } from '@feedlog/schemas';
import { topicNames } from '@feedlog/topics';
import { describe, expect, it } from 'vitest';
import { generateHeadlines, uniquePrefix } from '../../../test/it/pipeline-helpers.ts';
import { clusterStage, type HeadlineEmbedder } from '../src/stage.ts';

/** an embedder that records each request's texts and answers a vector per text (or fails on demand) */
function recordingEmbedder() {
  const requests: string[][] = [];
  let failNext = false;
  const embedder: HeadlineEmbedder = {
    cacheModel: 'test-model',
    async embed(texts) {
      requests.push([...texts]);
      await sleep(5);
      if (failNext) {
        failNext = false;
        throw new Error('embedder unreachable');
      }
      return { results: texts.map((t) => ({ vector: Float32Array.from([t.length, 1, 0, 0]) })) as never };
    },
  };
  return { embedder, requests, failNextRequest: () => (failNext = true) };
}

const ctx = {
  signal: new AbortController().signal,
  breaker: () => undefined,
  send: () => {},
} as unknown as StageContext;

describe('cluster stage: embeddings asked for ahead of the batches (lookahead)', () => {
  it('asks for fetched records once, ahead; the transform asks only for what was not asked or failed', async () => {
    const prefix = uniquePrefix('cllook');
    const serde = { autoRegister: true, prefix };
    const inSerde = serdeFor('ClassifiedHeadline', `${prefix}${topicNames.classified}`, serde);
    const values: ClassifiedHeadline[] = generateHeadlines(6).map((g) => ({
      ...g.raw,
      classification: {
        category: 'b',
        confidence: 0.9,
        run: { model_name: 'test', model_version: '1', generation: 1, produced_at: 0 },
      },
    }));
    const raw = await Promise.all(
      values.map(
        async (v, i): Promise<RawRecord> =>
          ({
            topic: 'x',
            partition: 0,
            offset: String(i),
            key: null,
            value: await inSerde.encode(v),
            headers: {},
          }) as never,
      ),
    );
    const e = recordingEmbedder();
    const { stage } = clusterStage({ prefix, serde, embedder: e.embedder, options: { semanticWeight: 0.7 } });
    const lookahead = stage.merge?.lookahead;
    expect(lookahead).toBeTypeOf('function');
    const text = (v: ClassifiedHeadline) =>
      embeddingText({ title: v.headline.title ?? '', summary: v.headline.summary ?? null }, undefined);

    // records 0..3 fetched: one request ahead; fetched again (a re-delivery): not asked twice
    lookahead?.(raw.slice(0, 4));
    await sleep(100);
    lookahead?.(raw.slice(0, 4));
    await sleep(100);
    expect(e.requests).toEqual([values.slice(0, 4).map(text)]);

    // a batch of 0..5: only 4 and 5 are asked by the transform; every record has its vector
    const batch = values.map((value, i) => ({ ...raw[i], value }) as unknown as StageRecord<ClassifiedHeadline>);
    const out = await stage.transform(batch, ctx);
    expect(e.requests.slice(1)).toEqual([values.slice(4).map(text)]);
    expect(out.every((r) => !(r instanceof Error))).toBe(true);

    // asked ahead and failed: the transform asks again (and gets the vectors)
    const more = generateHeadlines(2).map((g) => ({ ...values[0]!, ...g.raw }));
    const moreRaw = await Promise.all(
      more.map(async (v, i) => ({ ...raw[0]!, offset: String(10 + i), value: await inSerde.encode(v) })),
    );
    e.failNextRequest();
    lookahead?.(moreRaw);
    await sleep(100);
    const before = e.requests.length;
    const out2 = await stage.transform(
      more.map((value, i) => ({ ...moreRaw[i], value }) as unknown as StageRecord<ClassifiedHeadline>),
      ctx,
    );
    expect(e.requests.slice(before)).toEqual([more.map(text)]);
    expect(out2.every((r) => !(r instanceof Error))).toBe(true);

    // taken by a transform while the lookahead was still decoding them: asked once, by the transform
    const late = generateHeadlines(2).map((g) => ({ ...values[0]!, ...g.raw }));
    const lateRaw = await Promise.all(
      late.map(async (v, i) => ({ ...raw[0]!, offset: String(20 + i), value: await inSerde.encode(v) })),
    );
    const before3 = e.requests.length;
    lookahead?.(lateRaw);
    await stage.transform(
      late.map((value, i) => ({ ...lateRaw[i], value }) as unknown as StageRecord<ClassifiedHeadline>),
      ctx,
    );
    await sleep(100);
    expect(e.requests.slice(before3)).toEqual([late.map(text)]);
  });
});
