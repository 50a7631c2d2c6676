// Ingest rate through POST /v1/items vs producing the same records directly, same broker, same run.
//   1. direct: kafkajs idempotent producer (acks=all) + the @feedlog/schemas Serde, batches of 500,
//      the same RawHeadline records the API builds (itemId, canonical URL, job id), --concurrency sends in flight
//   2. api: the real app (buildApp: validation, item ids, Serde, coalescing idempotent producer) listening on
//      127.0.0.1, fed by @feedlog/sdk's FeedlogClient over HTTP, batches of 500, --concurrency requests in flight
// Both write to their own fresh topic; each variant's end offsets are checked to equal the items sent.
// Rounds are interleaved (shared 2-core machine) and each variant's median and best round reported.
//   npx tsx bench/api.ts [--items 20000] [--rounds 3] [--concurrency 1,4] [--partitions 3] [--json]
// Needs Kafka and the schema registry (`node bin/feedlog up`). PostgreSQL is not used (no job rows), so
// the API figure is the HTTP + validation + encode + produce path.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { buildApp, KafkaIngestSink, MemoryApiKeyStore, serdeEncoder } from '@feedlog/api';
import { createKafka, loadConfig } from '@feedlog/common';
import { canonicalUrl, itemId, type RawHeadline, serdeFor } from '@feedlog/schemas';
import { type FeedItemInput, FeedlogClient } from '@feedlog/sdk';

const args = process.argv.slice(2);
const opt = (name: string, d: string) => (args.includes(name) ? (args[args.indexOf(name) + 1] ?? d) : d);
const N = Number(opt('--items', '20000'));
const ROUNDS = Number(opt('--rounds', '3'));
const CONC = opt('--concurrency', '1,4').split(',').map(Number);
const PARTS = Number(opt('--partitions', '3'));
const BATCH = 500;
const asJson = args.includes('--json');
const log = (s: string) => process.stderr.write(`${s}\n`);

const cfg = loadConfig();
const kafka = createKafka(cfg, { clientId: 'bench-api' });
const run = `bench-api-${Date.now().toString(36)}${randomBytes(2).toString('hex')}-`;

/** Real headlines (UCI) when the shared data is there, else synthetic ones; repeated to N with distinct guids. */
function items(): FeedItemInput[] {
  const file = '/work/shared/data/uci/stories-dev.csv';
  let base: { title: string; url: string; source: string; ts: number }[] = [];
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      // simple split is enough for a benchmark: take the rows without quoted commas
      const f = line.split(',');
      if (f.length !== 8) continue;
      base.push({ title: f[1]!, url: f[2]!, source: f[6]!, ts: Number(f[7]) });
    }
  } else {
    log('[bench/api] /work/shared/data absent: synthetic headlines');
    base = Array.from({ length: 1000 }, (_, i) => ({
      title: `Synthetic headline ${i} about markets and rates`,
      url: `https://news.example.com/${i}`,
      source: `src${i % 20}.example.com`,
      ts: 1394470370698 + i * 1000,
    }));
  }
  return Array.from({ length: N }, (_, i) => {
    const b = base[i % base.length]!;
    return {
      source: b.source,
      guid: `bench-${i}`,
      url: b.url,
      title: b.title,
      published_at: new Date(b.ts).toISOString(),
    };
  });
}

async function newTopic(name: string): Promise<string> {
  const topic = `${run}${name}-raw-headlines`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTS, replicationFactor: 1 }] });
  await admin.disconnect();
  return topic;
}

async function endSum(topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const o = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  return o.reduce((s, p) => s + Number(p.offset), 0);
}

async function pool<T>(tasks: (() => Promise<T>)[], conc: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < tasks.length) await tasks[next++]!();
    }),
  );
}

async function direct(data: FeedItemInput[], conc: number): Promise<number> {
  const name = `direct-c${conc}-${randomBytes(2).toString('hex')}`;
  const topic = await newTopic(name);
  const prefix = topic.slice(0, -'raw-headlines'.length);
  const serde = serdeFor('RawHeadline', topic, { prefix, registryUrl: cfg.registry.url, autoRegister: true });
  await serde.schemaId();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const t0 = performance.now();
  const tasks: (() => Promise<void>)[] = [];
  for (let i = 0; i < data.length; i += BATCH) {
    const chunk = data.slice(i, i + BATCH);
    tasks.push(async () => {
      const jobId = randomUUID();
      const now = Date.now();
      const messages = await Promise.all(
        chunk.map(async (it) => {
          const id = itemId({ source: it.source, guid: it.guid ?? null, url: it.url });
          const rec: RawHeadline = {
            item_id: id,
            job_id: jobId,
            headline: {
              source: it.source,
              guid: it.guid ?? null,
              url: canonicalUrl(it.url),
              title: it.title,
              summary: null,
              published_at: Date.parse(String(it.published_at)),
              ingested_at: now,
            },
          };
          return { key: id, value: await serde.encode(rec) };
        }),
      );
      await producer.send({ topic, acks: -1, messages });
    });
  }
  await pool(tasks, conc);
  const s = (performance.now() - t0) / 1000;
  await producer.disconnect();
  const written = await endSum(topic);
  if (written !== data.length) throw new Error(`direct c${conc}: ${written} records written, expected ${data.length}`);
  return data.length / s;
}

async function viaApi(data: FeedItemInput[], conc: number): Promise<number> {
  const topic = await newTopic(`api-c${conc}-${randomBytes(2).toString('hex')}`);
  const prefix = topic.slice(0, -'raw-headlines'.length);
  const key = 'fl_bench';
  const app = await buildApp({
    sink: new KafkaIngestSink(kafka, topic),
    encoder: serdeEncoder(cfg, prefix, true),
    apiKeys: new MemoryApiKeyStore().add(key, { name: 'bench', scopes: ['write'], rateLimitPerMinute: 1_000_000 }),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  // warm the connection, producer and schema id outside the timing (direct does the same)
  const warm = new FeedlogClient({ baseUrl: url, apiKey: key });
  await warm.pushItems([{ source: 'warm', url: 'https://warm.example/1', title: 'warm-up' }]);
  await warm.close();
  const client = new FeedlogClient({ baseUrl: url, apiKey: key, batchSize: BATCH, concurrency: conc, lingerMs: 5 });
  const t0 = performance.now();
  const r = await client.pushItems(data);
  await client.flush();
  const s = (performance.now() - t0) / 1000;
  await client.close();
  await app.close();
  if (r.accepted !== data.length) {
    const bad = r.items.find((x) => !x.ok);
    throw new Error(`api c${conc}: ${r.accepted} accepted of ${data.length}: ${JSON.stringify(bad)}`);
  }
  const written = await endSum(topic);
  if (written !== data.length + 1)
    throw new Error(`api c${conc}: ${written} records written, expected ${data.length + 1}`);
  return data.length / s;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main() {
  const data = items();
  log(
    `[bench/api] ${N} items, batches of ${BATCH}, concurrency ${CONC.join('/')}, ${ROUNDS} interleaved rounds, ${PARTS} partitions`,
  );
  const results = new Map<string, number[]>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const c of CONC) {
      for (const [name, fn] of [
        [`direct c${c}`, direct],
        [`api c${c}`, viaApi],
      ] as const) {
        const rate = await fn(data, c);
        results.set(name, [...(results.get(name) ?? []), rate]);
        log(`  round ${round} ${name}: ${Math.round(rate)} items/s`);
      }
    }
  }
  const rows = CONC.map((c) => {
    const d = results.get(`direct c${c}`)!;
    const a = results.get(`api c${c}`)!;
    return {
      concurrency: c,
      direct_median: Math.round(median(d)),
      direct_best: Math.round(Math.max(...d)),
      api_median: Math.round(median(a)),
      api_best: Math.round(Math.max(...a)),
      api_vs_direct_median: Number((median(a) / median(d)).toFixed(2)),
    };
  });
  if (asJson) console.log(JSON.stringify({ items: N, batch: BATCH, rounds: ROUNDS, partitions: PARTS, rows }));
  else {
    console.log('concurrency | direct items/s (median / best) | API items/s (median / best) | API / direct (median)');
    for (const r of rows)
      console.log(
        `${r.concurrency} | ${r.direct_median} / ${r.direct_best} | ${r.api_median} / ${r.api_best} | ${r.api_vs_direct_median}`,
      );
  }
  // clean up this run's topics and subjects
  const admin = kafka.admin();
  await admin.connect();
  const mine = (await admin.listTopics()).filter((t) => t.startsWith(run));
  await admin.deleteTopics({ topics: mine }).catch(() => undefined);
  await admin.disconnect();
  for (const t of mine) {
    await fetch(`${cfg.registry.url}/subjects/${t}-value`, { method: 'DELETE' }).catch(() => undefined);
    await fetch(`${cfg.registry.url}/subjects/${t}-value?permanent=true`, { method: 'DELETE' }).catch(() => undefined);
  }
}

await main();
