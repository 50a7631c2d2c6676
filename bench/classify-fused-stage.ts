// Issue 16: the classify stage with the fused model vs the embedder alone, same texts, same run.
// Both send the same texts to the local embedder with no cache (a fresh nonce per round makes every
// text new to any cache): (a) EmbeddingClient.embed in the stage's batch size; (b) the classify stage
// (in-memory driver: decode → transform → encode, as in the Kafka loop minus the broker) with a fused
// artifact, whose transform embeds the batch and runs the three members. Rounds alternate a / b.
//   . /tmp/shared-env.sh; nice -n 10 npx tsx bench/classify-fused-stage.ts --model <x.flcf> [--records 1000] [--rounds 2]
import { parseArgs } from 'node:util';
import { EmbeddingClient, embeddingSettings } from '@feedlog/embed';
import { runInMemory } from '@feedlog/runtime';
import { sampleRecords } from '@feedlog/schemas';
import { refCodec } from '@feedlog/test';
import { isFused, loadAnyClassifyModel, loadDataset } from '../processors/classify/src/index.ts';
import { classifyStage } from '../processors/classify/src/stage.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    records: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '2' },
    data: { type: 'string', default: '/work/shared/data/ag_news/ag_news-dev.csv' },
  },
});
const model = loadAnyClassifyModel(values.model ?? '');
if (!isFused(model)) throw new Error('--model must be a fused .flcf artifact');
const N = Number(values.records);
const rows = loadDataset(values.data).examples.slice(0, N);
const settings = embeddingSettings({
  baseUrl: process.env.EMBEDDING_BASE_URL ?? 'http://127.0.0.1:8090/v1',
  model: model.embeddingModel,
  batchSize: 64,
  concurrency: 2,
  timeoutMs: 120_000,
});
const s = sampleRecords().RawHeadline;
const rate: { embedder: number[]; stage: number[] } = { embedder: [], stage: [] };
for (let r = 0; r < Number(values.rounds); r++) {
  const nonce = `${Date.now().toString(36)}-${r}`;
  const texts = rows.map((e, i) => `${e.title} [${nonce}.${i}]`);
  let t0 = performance.now();
  const client = new EmbeddingClient(settings);
  for (let i = 0; i < texts.length; i += 500) await client.embed(texts.slice(i, i + 500));
  rate.embedder.push(N / ((performance.now() - t0) / 1000));
  const texts2 = rows.map((e, i) => `${e.title} [${nonce}.s${i}]`);
  const stage = classifyStage({ model, embedder: new EmbeddingClient(settings) });
  stage.input.codec = refCodec();
  if (stage.output) stage.output.codec = refCodec();
  stage.dlq.codec = refCodec();
  const inputs = texts2.map((t, i) => ({
    key: `i${i}`,
    value: { ...s, item_id: `i${i}`, headline: { ...s.headline, title: t, summary: null } },
  }));
  t0 = performance.now();
  const out = await runInMemory(stage, inputs);
  rate.stage.push(N / ((performance.now() - t0) / 1000));
  if (out.outputs.length !== N) throw new Error(`stage wrote ${out.outputs.length} of ${N}`);
  console.log(
    `round ${r + 1}: embedder alone ${rate.embedder.at(-1)!.toFixed(1)} texts/s, fused classify stage ${rate.stage.at(-1)!.toFixed(1)} records/s, ratio ${(rate.stage.at(-1)! / rate.embedder.at(-1)!).toFixed(2)}`,
  );
}
const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
console.log(
  `total: embedder ${(sum(rate.embedder) / rate.embedder.length).toFixed(1)} texts/s, stage ${(sum(rate.stage) / rate.stage.length).toFixed(1)} records/s, ratio of means ${(sum(rate.stage) / sum(rate.embedder)).toFixed(2)}`,
);
