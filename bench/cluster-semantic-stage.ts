/**
 * The cluster stage with the embedder in the loop (issue 16), through the real broker (exactly-once,
 * CLUSTER_SEMANTIC's SEMANTIC_PRESET), as a ratio of the embedder alone on the same texts in the same
 * run: the bare EmbeddingClient embedding the titles batch by batch, one batch at a time, as the
 * stage asks. Neither arm has a cache (every text is sent), so the ratio is the stage's overhead.
 *
 *   npx tsx bench/cluster-semantic-stage.ts [--records 600] [--batch 100] [--data …/stories-dev.csv]
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadUciCsv, SEMANTIC_PRESET } from '@feedlog/cluster';
import { runClusterStage } from '@feedlog/cluster/run-cluster';
import { clusterStage } from '@feedlog/cluster/stage';
import { createKafka, loadConfig } from '@feedlog/common';
import { EmbeddingClient, embeddingSettingsFromEnv } from '@feedlog/embed';
import { subscribe } from '@feedlog/runtime';
import { type ClassifiedHeadline, itemId, serdeFor } from '@feedlog/schemas';
import { applyTopics, declareFeedlog, topicNames } from '@feedlog/topics';

const args = process.argv.slice(2);
const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const N = Number(arg('--records') ?? 600);
const BATCH = Number(arg('--batch') ?? 100);
const data = arg('--data') ?? fileURLToPath(new URL('../../shared/data/uci/stories-dev.csv', import.meta.url));
const log = (s: string) => process.stderr.write(`${s}\n`);
const kafka = createKafka(loadConfig(), { clientId: 'bench-cluster-semantic' });
const settings = embeddingSettingsFromEnv();
const client = () => new EmbeddingClient({ ...settings, batchSize: 64, concurrency: 2 });

// distinct texts per run (a run tag in each title): nothing is answered from any cache
const base = loadUciCsv(data).slice(0, N);
const texts = (tag: string) => base.map((r, i) => `${r.title} (${tag}${i})`);

async function embedderAlone(tag: string): Promise<number> {
  const c = client();
  const ts = texts(tag);
  const t0 = performance.now();
  for (let i = 0; i < ts.length; i += BATCH) await c.embed(ts.slice(i, i + BATCH));
  return ts.length / ((performance.now() - t0) / 1000);
}

async function stage(tag: string, generation: number, prefix: string): Promise<number> {
  const t = (b: string) => `${prefix}${b}`;
  const inSerde = serdeFor('ClassifiedHeadline', t(topicNames.classified), { autoRegister: true, prefix });
  const job = `bench-${randomUUID()}`;
  const ts = texts(tag);
  const records: ClassifiedHeadline[] = base.map((r, i) => {
    const url = `https://bench.example/${tag}/${i}`;
    return {
      item_id: itemId({ source: r.source ?? 'x', guid: null, url }),
      job_id: job,
      headline: {
        source: r.source ?? 'x',
        guid: null,
        url,
        title: ts[i]!,
        summary: null,
        published_at: r.publishedAt,
        ingested_at: r.publishedAt,
      },
      classification: {
        category: r.category ?? 'b',
        confidence: 0.9,
        run: { model_name: 'bench', model_version: '1', generation: 1, produced_at: 0 },
      },
    };
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({
    topic: t(topicNames.classified),
    acks: -1,
    messages: await Promise.all(
      records.map(async (r) => ({
        key: r.item_id,
        value: await inSerde.encode(r),
        headers: { 'feedlog-event-time': String(r.headline.published_at) },
      })),
    ),
  });
  await producer.disconnect();
  const parts = clusterStage({
    prefix,
    generation,
    options: SEMANTIC_PRESET,
    embedder: client(),
    config: { batch: { maxRecords: BATCH, lingerMs: 20 } },
  });
  let first = 0;
  let end = 0;
  let count = 0;
  const done = new Promise<void>((resolve) => {
    const off = subscribe('batch', (e) => {
      if (e.stage !== parts.stage.name || e.generation !== generation) return;
      const now = performance.now();
      if (first === 0) first = now - e.batchMs;
      count += e.recordsIn;
      if (count >= (generation === 1 ? N : generation * N) && end === 0) {
        end = now;
        off();
        resolve();
      }
    });
  });
  const running = await runClusterStage(parts, { kafka, clientId: `bench-clsem-g${generation}` });
  await done;
  await running.stop();
  return count / ((end - first) / 1000);
}

const prefix = `bench.clsem.${Date.now().toString(36)}.`;
const admin = kafka.admin();
await applyTopics({ admin, prefix });
await admin.disconnect();
await Promise.all([
  serdeFor('ClusteredHeadline', `${prefix}${topicNames.clustered}`, { autoRegister: true, prefix }).schemaId(),
  serdeFor('DeadLetter', `${prefix}cluster.dlq`, { autoRegister: true, prefix }).schemaId(),
]);
const load0 = loadavg()[0]!;
const a1 = await embedderAlone('a');
log(`embedder alone: ${a1.toFixed(1)} texts/s`);
// generation 1 reads only its own N records (the topic holds nothing else yet)
const s1 = await stage('s', 1, prefix);
log(`stage: ${s1.toFixed(1)} records/s`);
const a2 = await embedderAlone('b');
log(`embedder alone: ${a2.toFixed(1)} texts/s`);
const del = kafka.admin();
await del.connect();
await del.deleteTopics({ topics: declareFeedlog({ prefix }).topics.map((x) => x.name) }).catch(() => {});
await del.disconnect();
console.log(
  JSON.stringify({
    records: N,
    batch: BATCH,
    embedderAlone: [a1, a2],
    stage: s1,
    ratio: s1 / ((a1 + a2) / 2),
    load: [load0, loadavg()[0]],
  }),
);
process.exit(0);
