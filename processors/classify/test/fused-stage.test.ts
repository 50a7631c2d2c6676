import { PoisonRecordError, RetriableError, runInMemory } from '@feedlog/runtime';
import { type ClassifiedHeadline, type RawHeadline, sampleRecords } from '@feedlog/schemas';
import { refCodec } from '@feedlog/test';
import { describe, expect, it } from 'vitest';
import { type Dataset, mulberry32, trainClassifier, trainFused } from '../src/index.ts';
import { type ClassifyEmbedder, classifyStage } from '../src/stage.ts';

const LABELS = ['fruit', 'tools', 'music'];
const WORDS = [
  ['apple', 'banana', 'cherry', 'grape'],
  ['hammer', 'wrench', 'drill', 'saw'],
  ['violin', 'trumpet', 'drum', 'flute'],
];
/** the toy "meaning": a unit vector near the centre of the class whose words the text has */
function toyVector(text: string): Float32Array {
  const v = new Float32Array(8).fill(0.05);
  WORDS.forEach((ws, c) => {
    if (ws.some((w) => text.includes(w))) v[c]! += 1;
  });
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}
function toyModel() {
  const rand = mulberry32(5);
  const examples = Array.from({ length: 90 }, (_, i) => {
    const c = i % 3;
    return {
      title: `a ${WORDS[c]![Math.floor(rand() * 4)]} and the ${WORDS[c]![Math.floor(rand() * 4)]}`,
      label: LABELS[c]!,
    };
  });
  const ds: Dataset = { format: 'csv', path: 'toy.csv', labels: LABELS, examples };
  const vectors = examples.map((e) => toyVector(e.title));
  return {
    ds,
    model: trainFused(ds, { rows: examples.map((_, i) => i), vectors, embeddingModel: 'toy-8d', seed: 1 }).model,
  };
}

class FakeEmbedder implements ClassifyEmbedder {
  readonly settings = { model: 'toy-8d', maxChars: 4096 };
  readonly calls: string[][] = [];
  constructor(private readonly refuse = 'REFUSED') {}
  async embed(texts: string[]) {
    this.calls.push(texts);
    return {
      results: texts.map((t) =>
        t.includes(this.refuse) ? new PoisonRecordError('input too long') : { vector: toyVector(t), normalized: true },
      ),
    };
  }
}

function raw(i: number, title: string, summary: string | null = null): RawHeadline {
  const s = sampleRecords().RawHeadline;
  return { ...s, item_id: `item-${i}`, headline: { ...s.headline, title, summary } };
}
function withRefCodecs<S extends ReturnType<typeof classifyStage>>(stage: S): S {
  stage.input.codec = refCodec();
  if (stage.output) stage.output.codec = refCodec();
  stage.dlq.codec = refCodec();
  return stage;
}

describe('classify stage with a fused model (in-memory driver)', () => {
  const { model } = toyModel();

  it('asks the embedder for the batch, classifies by the fused model, dead-letters empty and refused records', async () => {
    const embedder = new FakeEmbedder();
    const stage = withRefCodecs(classifyStage({ model, embedder, now: () => 1 }));
    const inputs = [
      raw(0, 'a cherry and the grape'),
      raw(1, 'the drill', 'with a hammer'),
      raw(2, ''),
      raw(3, 'a REFUSED violin'),
      raw(4, 'trumpet and drum'),
    ].map((v) => ({ key: v.item_id, value: v }));
    const r = await runInMemory(stage, inputs);
    const out = r.outputs.map((o) => o.value as ClassifiedHeadline);
    expect(out.map((o) => [o.item_id, o.classification.category])).toEqual([
      ['item-0', 'fruit'],
      ['item-1', 'tools'],
      ['item-4', 'music'],
    ]);
    for (const o of out) {
      expect(o.classification.run.model_name).toBe(model.name);
      expect(o.classification.run.model_version).toBe(model.version);
      expect(o.classification.confidence).toBeGreaterThan(0.34);
    }
    expect(r.dead.map((d) => [Buffer.from(d.original_key ?? '').toString(), d.error_message])).toEqual([
      ['item-2', 'record has neither a title nor a summary to classify'],
      ['item-3', "the embedder refused the record's text: input too long"],
    ]);
    // the embed stage's text: title, then "\n" + summary; the empty record is not sent
    expect(embedder.calls.flat()).toEqual([
      'a cherry and the grape',
      'the drill\nwith a hammer',
      'a REFUSED violin',
      'trumpet and drum',
    ]);
  });

  it('an unreachable embedder fails the batch (retried by the runtime), it dead-letters nothing', async () => {
    let n = 0;
    const embedder: ClassifyEmbedder = {
      settings: { model: 'toy-8d', maxChars: 4096 },
      embed: async (texts) => {
        if (n++ < 2) throw new RetriableError('embedder unreachable: ECONNREFUSED');
        return { results: texts.map((t) => ({ vector: toyVector(t), normalized: true })) };
      },
    };
    const stage = withRefCodecs(
      classifyStage({ model, embedder, config: { retry: { initialDelayMs: 1, maxDelayMs: 2 } } }),
    );
    const r = await runInMemory(stage, [{ key: 'a', value: raw(0, 'banana') }]);
    expect(r.dead).toEqual([]);
    expect(r.outputs).toHaveLength(1);
    expect(r.retryDelays.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses to start without an embedder, or with one for another embedding model', () => {
    expect(() => classifyStage({ model })).toThrow(/needs an embedder/);
    const other = { settings: { model: 'other-model', maxChars: 4096 }, embed: new FakeEmbedder().embed };
    expect(() => classifyStage({ model, embedder: other })).toThrow(/trained on toy-8d/);
  });

  it('an n-gram model still runs without any embedder', async () => {
    const { ds } = toyModel();
    const ngram = trainClassifier(ds, { holdout: 0, candidates: [{ method: 'nbsvm' }], measureSpeed: false }).model;
    const stage = withRefCodecs(classifyStage({ model: ngram }));
    const r = await runInMemory(stage, [{ key: 'a', value: raw(0, 'the hammer and a saw') }]);
    expect((r.outputs[0]!.value as ClassifiedHeadline).classification.category).toBe('tools');
  });
});
