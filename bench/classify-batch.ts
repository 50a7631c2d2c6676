/**
 * The classify stage's own CPU per record, without the broker: the runtime's `processBatch` (decode
 * → transform → encode, as in the Kafka loop) and each output through the produce path's record
 * encoder (`encodeRecord`: key, value, headers), for the classify stage (Avro through a registry
 * stub, the default model) and for the bytes passthrough of bench/stages.ts, over the same
 * RawHeadline frames in batches of the runtime's size. Rounds alternate passthrough / classify;
 * CPU time of this process (process.cpuUsage), so a shared machine moves it less than wall time.
 * What is left out is what both stages pay alike: fetching, kafkajs' request encoding, the
 * transaction. Issue 14: what separates classify from passthrough.
 *
 *   npx tsx bench/classify-batch.ts [--records 300000] [--batch 3400] [--rounds 5] [--data <uci csv>] [--json]
 */
import { parseArgs } from 'node:util';
import { isFused } from '@feedlog/classify/load-any';
import { classifyStage, loadClassifyModel } from '@feedlog/classify/stage';
import { loadUciCsv } from '@feedlog/cluster';
import { encodeRecord } from '@feedlog/common/kafkajs-fast-produce';
import { Breaker, bytesCodec, defineStage, processBatch, type Stage } from '@feedlog/runtime';
import { itemId, type RegistryRestClient, serdeFor } from '@feedlog/schemas';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '300000' },
    batch: { type: 'string', default: '3400' },
    rounds: { type: 'string', default: '5' },
    data: { type: 'string', default: '/work/shared/data/uci/stories-dev.csv' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.records);
const B = Number(values.batch);

// a registry stub: one id per subject, each serving the local schema
const ids: Record<string, number> = {};
const texts = new Map<number, string>();
const registry = {
  lookupId: async (subject: string, schema: string) => {
    ids[subject] ??= Object.keys(ids).length + 1;
    texts.set(ids[subject], schema);
    return ids[subject];
  },
  register: async (subject: string, schema: string) => registry.lookupId(subject, schema),
  schemaById: async (id: number) => ({ schema: texts.get(id) ?? '' }),
} as unknown as RegistryRestClient;

const rows = loadUciCsv(values.data);
const raw = serdeFor('RawHeadline', 'raw-headlines', { registry });
const frames: Buffer[] = [];
for (let i = 0; i < N; i++) {
  const r = rows[i % rows.length]!;
  const url = `https://bench.example/${i}`;
  const publishedAt = r.publishedAt + Math.floor(i / rows.length) * 86_400_000;
  frames.push(
    await raw.encode({
      item_id: itemId({ source: r.source ?? 'x', guid: null, url }),
      job_id: 'bench-0b7d0a8e-2f5c-4f55-9d11-3a1d9e6e2c4f',
      headline: {
        source: r.source ?? 'x',
        guid: null,
        url,
        title: r.title,
        summary: null,
        published_at: publishedAt,
        ingested_at: publishedAt,
      },
    }),
  );
}
const records = frames.map((value, i) => ({
  topic: 'raw-headlines',
  partition: i % 6,
  offset: String(i),
  timestamp: '1394471386119',
  key: Buffer.from(`k${i}`),
  value,
  headers: {},
}));

const model = loadClassifyModel(undefined);
if (isFused(model)) throw new Error('the default n-gram model only');
const classify = classifyStage({ model, serde: { registry }, workers: 0 }) as Stage<unknown, unknown>;
const passthrough = defineStage({
  name: 'passthrough',
  generation: 1,
  model: { name: 'passthrough', version: '1' },
  input: { topic: 'raw-headlines', codec: bytesCodec() },
  output: { topic: 'bench.passthrough', codec: bytesCodec() },
  dlq: { topic: 'classify.dlq' },
  map: (r) => r.value,
}) as Stage<unknown, unknown>;
const deps = { breaker: () => new Breaker('x'), signal: new AbortController().signal };

/** CPU µs per record of one pass over all records; checks every record came out */
async function pass(stage: Stage<unknown, unknown>): Promise<number> {
  const c0 = process.cpuUsage();
  let out = 0;
  let bytes = 0;
  for (let i = 0; i < records.length; i += B) {
    const res = await processBatch(stage, records.slice(i, i + B), deps);
    for (const [j, m] of res.outputs.entries()) {
      const e = encodeRecord({ key: m.key, value: m.value, headers: m.headers, offsetDelta: j, timestampDelta: 0 });
      bytes += e?.size() ?? 0;
    }
    out += res.outputs.length;
    if (res.dead.length) throw new Error(`${stage.name}: ${res.dead.length} dead-lettered`);
  }
  const c = process.cpuUsage(c0);
  if (out !== records.length || bytes === 0) throw new Error(`${stage.name}: ${out} outputs of ${records.length}`);
  return (c.user + c.system) / records.length;
}

// the first pass of each fetches the schema ids (the registry stub) and warms the JIT
await pass(passthrough);
await pass(classify);
const us: { passthrough: number[]; classify: number[] } = { passthrough: [], classify: [] };
for (let r = 0; r < Number(values.rounds); r++) {
  us.passthrough.push(await pass(passthrough));
  us.classify.push(await pass(classify));
  if (!values.json)
    console.log(
      `round ${r + 1}: passthrough ${us.passthrough.at(-1)!.toFixed(2)} µs/rec, classify ${us.classify.at(-1)!.toFixed(2)} µs/rec`,
    );
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const result = {
  records: N,
  batch: B,
  passthroughUs: median(us.passthrough),
  classifyUs: median(us.classify),
  extraUs: median(us.classify) - median(us.passthrough),
  rounds: us,
};
if (values.json) console.log(JSON.stringify(result));
else
  console.log(
    `median: passthrough ${result.passthroughUs.toFixed(2)} µs/rec, classify ${result.classifyUs.toFixed(2)} µs/rec, classify's own ${result.extraUs.toFixed(2)} µs/rec`,
  );
process.exit(0);
