// `feedlog produce` items/s through the API and with --direct, as a ratio of a plain kafkajs
// producer writing the same RawHeadline records in the same run; then the re-run check on the
// whole file: every row once, and running it again adds no key (no item downstream).
//   npx tsx bench/produce.ts [--file ../shared/data/uci/stories-dev.csv] [--rounds 3] [--json]
// Each round and variant writes to a fresh prefixed topic (3 partitions); the API is the real app
// in this process on 127.0.0.1 (no PostgreSQL: no job rows, as in bench/api.ts).
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { buildApp, KafkaIngestSink, MemoryApiKeyStore, serdeEncoder } from '@feedlog/api';
import { createKafka, loadConfig } from '@feedlog/common';
import { serdeFor } from '@feedlog/schemas';
import { type FeedItemInput, produceInput, readSource, toRawHeadline } from '@feedlog/sdk';
import type { Admin } from 'kafkajs';

const args = process.argv.slice(2);
const opt = (name: string, d: string) => (args.includes(name) ? (args[args.indexOf(name) + 1] ?? d) : d);
const file = opt('--file', '../shared/data/uci/stories-dev.csv');
const rounds = Number(opt('--rounds', '3'));
const log = (s: string) => process.stderr.write(`${s}\n`);
const cfg = loadConfig();
const kafka = createKafka(cfg, { clientId: 'bench-produce' });
const admin: Admin = kafka.admin();
await admin.connect();
const KEY = 'fl_bench_produce';
const run = `bench-produce-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const topics: string[] = [];
const newTopic = async (name: string) => {
  const prefix = `${run}-${name}-`;
  const topic = `${prefix}raw-headlines`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
  topics.push(topic);
  return { prefix, topic };
};
const count = async (topic: string) => (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);

// the rows, validated once, as the records the API would build
const items: FeedItemInput[] = [];
for await (const r of readSource(file)) if (r.item) items.push(r.item);
log(`${file}: ${items.length} items`);

async function plain(): Promise<number> {
  const { prefix, topic } = await newTopic(`plain${Math.random().toString(36).slice(2, 6)}`);
  const serde = serdeFor('RawHeadline', topic, { prefix, registryUrl: cfg.registry.url, autoRegister: true });
  await serde.encode(toRawHeadline(items[0]!, 'warm', 0)); // the subject registered, as for the others
  // from nothing, like a `produce` run: connect, then send, 4 batches in flight like produce's default
  const t0 = performance.now();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const at = Date.now();
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < items.length; i += 500) {
    const chunk = items.slice(i, i + 500).map((it) => toRawHeadline(it, 'bench', at));
    const messages = await Promise.all(chunk.map(async (r) => ({ key: r.item_id, value: await serde.encode(r) })));
    sends.push(producer.send({ topic, acks: -1, messages }));
    if (sends.length >= 4) await sends.shift();
  }
  await Promise.all(sends);
  const s = (performance.now() - t0) / 1000;
  await producer.disconnect();
  if ((await count(topic)) !== items.length) throw new Error('plain: count mismatch');
  return items.length / s;
}

async function viaApi(prefixTopic?: { prefix: string; topic: string }) {
  const t = prefixTopic ?? (await newTopic(`api${Math.random().toString(36).slice(2, 6)}`));
  const app = await buildApp({
    sink: new KafkaIngestSink(kafka, t.topic),
    encoder: serdeEncoder(cfg, t.prefix, true),
    apiKeys: new MemoryApiKeyStore().add(KEY, { name: 'bench', scopes: ['write'], rateLimitPerMinute: 10_000_000 }),
    rateLimit: false,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const s = await produceInput(file, { mode: 'api', url, apiKey: KEY, batch: 500, concurrency: 4 });
  await app.close();
  return { summary: s, ...t };
}

async function direct(t?: { prefix: string; topic: string }) {
  const tt = t ?? (await newTopic(`direct${Math.random().toString(36).slice(2, 6)}`));
  if (!t) {
    // register the prefixed subject (production: `feedlog schemas register`)
    await serdeFor('RawHeadline', tt.topic, {
      prefix: tt.prefix,
      registryUrl: cfg.registry.url,
      autoRegister: true,
    }).encode(toRawHeadline(items[0]!, 'x', 0));
  }
  const s = await produceInput(file, { mode: 'direct', url: '', batch: 500, concurrency: 4, prefix: tt.prefix });
  return { summary: s, ...tt };
}

const rates: Record<string, number[]> = { plain: [], api: [], direct: [] };
for (let r = 0; r < rounds; r++) {
  rates.plain!.push(await plain());
  rates.api!.push((await viaApi()).summary.itemsPerSecond);
  rates.direct!.push((await direct()).summary.itemsPerSecond);
  log(
    `round ${r + 1}: plain ${Math.round(rates.plain!.at(-1)!)}, api ${Math.round(rates.api!.at(-1)!)}, direct ${Math.round(rates.direct!.at(-1)!)} items/s`,
  );
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// the whole file three times into one topic: API, API again, --direct
const once = await viaApi();
const again = await viaApi(once);
const thrice = await direct(once);
const keys = new Set<string>();
const consumer = kafka.consumer({ groupId: `${run}-keys` });
const records = await count(once.topic);
await consumer.connect();
await consumer.subscribe({ topic: once.topic, fromBeginning: true });
let seen = 0;
await new Promise<void>((done) => {
  void consumer.run({
    eachMessage: async ({ message }) => {
      keys.add(message.key!.toString());
      if (++seen >= records) done();
    },
  });
});
await consumer.disconnect();
const result = {
  file,
  items: items.length,
  rounds,
  itemsPerSecond: {
    plain: Math.round(median(rates.plain!)),
    api: Math.round(median(rates.api!)),
    direct: Math.round(median(rates.direct!)),
  },
  ratio: { api: median(rates.api!) / median(rates.plain!), direct: median(rates.direct!) / median(rates.plain!) },
  rerun: {
    first: {
      produced: once.summary.produced,
      duplicates: once.summary.duplicates,
      rejected: once.summary.rejected,
      total: once.summary.total,
    },
    second: { produced: again.summary.produced },
    direct: { produced: thrice.summary.produced },
    records,
    distinctKeys: keys.size,
  },
};
for (const t of topics) await admin.deleteTopics({ topics: [t] }).catch(() => undefined);
for (const t of topics)
  await fetch(`${cfg.registry.url}/subjects/${encodeURIComponent(`${t}-value`)}`, { method: 'DELETE' }).catch(
    () => undefined,
  );
await admin.disconnect();
console.log(JSON.stringify(result, null, 1));
process.exit(0);
