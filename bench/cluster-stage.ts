/**
 * The cluster stage alone through the real broker (exactly-once), by batch size: classified →
 * clustered, records/s, the share of the wall time in the transform and in the commit, and what
 * the changelog costs (messages and key+value bytes per record). Same input for every row: each
 * batch size runs as its own generation (own consumer group, own changelog keys g<N>/…), a replay
 * from offset zero. The pure transform (ClusterState.assign + takeChangelog every batch, no Kafka,
 * no Avro) on the same records in the same run is the baseline.
 *
 *   npx tsx bench/cluster-stage.ts [--records 20000] [--batches 500,2000] [--linger 20]
 *                                  [--modes pipelined,serial] [--data ../shared/data/uci/stories-dev.csv] [--json]
 *
 * Modes: `pipelined` prepares batch k+1 while batch k commits (the default of runClusterStage);
 * `serial` commits each batch before preparing the next.
 *
 * Input: ClassifiedHeadline records (UCI headlines repeated, each repeat shifted later in event
 * time so every partition is in event-time order as in a live feed; or synthetic ones) with the
 * feedlog-event-time header the classify stage sets, keyed by item id over the 6 partitions.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ClusterState, loadUciCsv } from '@feedlog/cluster';
import { readChangelog, runClusterStage } from '@feedlog/cluster/run-cluster';
import { clusterStage } from '@feedlog/cluster/stage';
import { createKafka, loadConfig } from '@feedlog/common';
import { subscribe } from '@feedlog/runtime';
import { type ClassifiedHeadline, itemId, serdeFor } from '@feedlog/schemas';
import { applyTopics, declareFeedlog, topicNames } from '@feedlog/topics';

const args = process.argv.slice(2);
const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const N = Number(arg('--records') ?? 20_000);
const BATCHES = (arg('--batches') ?? '500,2000').split(',').map(Number);
const LINGER = Number(arg('--linger') ?? 20);
const MODES = (arg('--modes') ?? 'pipelined,serial').split(',') as ('pipelined' | 'serial')[];
const RUNS = BATCHES.flatMap((batch) => MODES.map((mode) => ({ batch, mode })));
const asJson = args.includes('--json');
const data = arg('--data') ?? fileURLToPath(new URL('../../shared/data/uci/stories-dev.csv', import.meta.url));
const log = (s: string) => process.stderr.write(`${s}\n`);
const kafka = createKafka(loadConfig(), { clientId: 'bench-cluster-stage' });

const synthetic = () => {
  log(`(${data} not found: synthetic headlines)`);
  return Array.from({ length: 1000 }, (_, i) => ({
    title: `market ${i % 37} court ${i % 11} storm report ${i % 97}`,
    source: `src${i % 13}`,
    publishedAt: Date.UTC(2014, 2, 10) + i * 1_000,
  }));
};
const base = existsSync(data)
  ? loadUciCsv(data).map((r) => ({ title: r.title, source: r.source ?? 'x', publishedAt: r.publishedAt }))
  : synthetic();
const cats = ['b', 't', 'e', 'm'];
const job = `bench-${randomUUID()}`;
const records: ClassifiedHeadline[] = Array.from({ length: N }, (_, i) => {
  // repeats of the data are shifted past each other in event time: partitions stay in event-time order
  const span = base.at(-1)!.publishedAt - base[0]!.publishedAt + 24 * 3600_000;
  const h = { ...base[i % base.length]!, publishedAt: base[i % base.length]!.publishedAt };
  h.publishedAt += Math.floor(i / base.length) * span;
  const url = `https://bench.example/${i}`;
  return {
    item_id: itemId({ source: h.source, guid: null, url }),
    job_id: job,
    headline: {
      source: h.source,
      guid: null,
      url,
      title: h.title,
      summary: null,
      published_at: h.publishedAt,
      ingested_at: h.publishedAt,
    },
    classification: {
      category: cats[i % 4]!,
      confidence: 0.9,
      run: { model_name: 'bench', model_version: '1', generation: 1, produced_at: 0 },
    },
  };
});

const prefix = `bench.clstage.${Date.now().toString(36)}.`;
const t = (b: string) => `${prefix}${b}`;
const admin = kafka.admin();
await applyTopics({ admin, prefix });
await admin.disconnect();
const serde = { autoRegister: true, prefix };
const inSerde = serdeFor('ClassifiedHeadline', t(topicNames.classified), serde);
await Promise.all([
  serdeFor('ClusteredHeadline', t(topicNames.clustered), serde).schemaId(),
  serdeFor('DeadLetter', t('cluster.dlq'), serde).schemaId(),
]);
log(
  `load average ${loadavg()[0]!.toFixed(1)}; producing ${N} ClassifiedHeadline records to ${t(topicNames.classified)}`,
);
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await producer.connect();
for (let i = 0; i < N; i += 2_000) {
  const chunk = records.slice(i, i + 2_000);
  await producer.send({
    topic: t(topicNames.classified),
    acks: -1,
    messages: await Promise.all(
      chunk.map(async (r) => ({
        key: r.item_id,
        value: await inSerde.encode(r),
        headers: { 'feedlog-event-time': String(r.headline.published_at) },
      })),
    ),
  });
}
await producer.disconnect();

interface Row {
  batch: number;
  mode: string;
  perSec: number;
  batches: number;
  transformShare: number;
  commitShare: number;
  pure: number;
  pureChangelogMessages: number;
  changelogMessages: number;
  changelogBytes: number;
}
const rows: Row[] = [];
const timeout = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what}: timed out`)), ms))]);

// pure transform, event-time order (the stage's merge order), changelog taken every `batch`
const sorted = [...records].sort((a, b) => a.headline.published_at! - b.headline.published_at!);
const pureRate = (batch: number) => {
  let best = 0;
  let messages = 0;
  for (let k = 0; k < 3; k++) {
    const st = new ClusterState();
    messages = 0;
    const t0 = performance.now();
    for (let i = 0; i < sorted.length; i++) {
      const r = sorted[i]!;
      st.assign({
        itemId: r.item_id,
        title: r.headline.title,
        source: r.headline.source,
        publishedAt: r.headline.published_at!,
        category: r.classification.category,
      });
      if ((i + 1) % batch === 0) messages += st.takeChangelog().length;
    }
    messages += st.takeChangelog().length;
    best = Math.max(best, N / ((performance.now() - t0) / 1000));
  }
  return { perSec: best, messages };
};

const pureByBatch = new Map<number, { perSec: number; messages: number }>();
for (const [g, { batch, mode }] of RUNS.entries()) {
  const generation = g + 1;
  const parts = clusterStage({ prefix, generation, config: { batch: { maxRecords: batch, lingerMs: LINGER } } });
  let first = 0;
  let end = 0;
  let count = 0;
  let batches = 0;
  let transformMs = 0;
  let commitMs = 0;
  let resolve: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  const off = subscribe('batch', (e) => {
    if (e.stage !== parts.stage.name || e.generation !== generation) return;
    const now = performance.now();
    if (first === 0) first = now - e.batchMs;
    count += e.recordsIn;
    batches++;
    transformMs += e.transformMs;
    commitMs += e.commitMs;
    if (count >= N && end === 0) {
      end = now;
      resolve();
    }
  });
  const running = await runClusterStage(parts, {
    kafka,
    clientId: `bench-cluster-g${generation}`,
    pipeline: mode === 'pipelined',
  });
  await timeout(done, 900_000, `cluster g${generation}`);
  off();
  await running.stop();
  const wall = end - first;
  const entries = await readChangelog(kafka, t(topicNames.clusterChangelog), generation);
  const keyPrefix = `g${generation}/`.length;
  const bytes = entries.reduce((s, e) => s + keyPrefix + e.key.length + (e.value?.length ?? 0), 0);
  if (!pureByBatch.has(batch)) pureByBatch.set(batch, pureRate(batch));
  const row: Row = {
    batch,
    mode,
    perSec: count / (wall / 1000),
    batches,
    transformShare: transformMs / wall,
    commitShare: commitMs / wall,
    pure: pureByBatch.get(batch)!.perSec,
    pureChangelogMessages: pureByBatch.get(batch)!.messages,
    changelogMessages: entries.length,
    changelogBytes: bytes,
  };
  rows.push(row);
  log(`batch ${batch} ${mode}: ${Math.round(row.perSec)} rec/s`);
}

const del = kafka.admin();
await del.connect();
await del.deleteTopics({ topics: declareFeedlog({ prefix }).topics.map((x) => x.name) }).catch(() => {});
await del.disconnect();

if (asJson) console.log(JSON.stringify({ records: N, linger: LINGER, rows }, null, 2));
else {
  const f = (x: number) => Math.round(x).toLocaleString('en-US');
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  console.log(`\ncluster stage, ${f(N)} records, linger ${LINGER} ms, exactly-once, local broker`);
  console.log(
    'batch | mode      | stage rec/s | pure rec/s | stage/pure | transform | commit | changelog msgs/rec (pure) | bytes/rec | batches',
  );
  for (const r of rows)
    console.log(
      `${String(r.batch).padStart(5)} | ${r.mode.padEnd(9)} | ${f(r.perSec).padStart(11)} | ${f(r.pure).padStart(10)} | ${(r.perSec / r.pure).toFixed(3).padStart(10)} | ${pct(r.transformShare).padStart(9)} | ${pct(r.commitShare).padStart(6)} | ${`${(r.changelogMessages / N).toFixed(3)} (pure ${(r.pureChangelogMessages / N).toFixed(3)})`.padStart(18)} | ${f(r.changelogBytes / N).padStart(9)} | ${r.batches}`,
    );
  console.log(`(load average ${loadavg()[0]!.toFixed(1)})`);
}
process.exit(0);
