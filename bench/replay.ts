// Replay of a passthrough stage from offset zero: the feedlog runtime's exactly-once stage (a new
// consumer group, as a replay generation is, reading the whole log from the start and writing every
// record to an output topic in per-partition transactions) against a plain kafkajs consume of the
// same topic (fresh group, fromBeginning, eachBatch counts and nothing else), same run, same input.
// RSS of this process is sampled every second during each leg: a replay must not grow with the log.
//   npx tsx bench/replay.ts [--records 1000000] [--partitions 6] [--value-bytes 200] [--batch 2000] [--json]
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createKafka, loadConfig } from '@feedlog/common';
import type { Kafka } from 'kafkajs';
import { bytesCodec, defineStage, runStage, subscribe } from '../processors/runtime/src/index.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '6' },
    'value-bytes': { type: 'string', default: '200' },
    batch: { type: 'string', default: '2000' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.records);
const PARTS = Number(values.partitions);
const VALUE = Number(values['value-bytes']);
const BATCH = Number(values.batch);
const kafka = createKafka(loadConfig(), { clientId: 'bench-replay' });
const run = `bench.replay.${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const input = `${run}.in`;
const output = `${run}.out`;
const log = (s: string) => process.stderr.write(`${s}\n`);
const mb = (b: number) => Math.round(b / 1048576);

async function createTopics(k: Kafka, topics: { topic: string; numPartitions: number }[]) {
  const admin = k.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: topics.map((t) => ({ ...t, replicationFactor: 1 })) });
  await admin.disconnect();
}

/** N records of VALUE bytes, keyed, spread over the partitions; 4 sends in flight */
async function seed() {
  const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  const value = randomBytes(VALUE / 2).toString('hex');
  const t0 = performance.now();
  let next = 0;
  const chunk = 10_000;
  const worker = async () => {
    for (;;) {
      const i = next;
      next += chunk;
      if (i >= N) return;
      const messages = [];
      for (let j = i; j < Math.min(N, i + chunk); j++) messages.push({ key: `k${j}`, value });
      await p.send({ topic: input, acks: -1, messages });
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  await p.disconnect();
  log(`seeded ${N} records of ${VALUE} B on ${PARTS} partitions in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** RSS every second from now until stopped */
function rssSampler(): () => number[] {
  const samples = [process.memoryUsage.rss()];
  const t = setInterval(() => samples.push(process.memoryUsage.rss()), 1000);
  return () => {
    clearInterval(t);
    samples.push(process.memoryUsage.rss());
    return samples;
  };
}

interface Leg {
  rate: number;
  seconds: number;
  rss: number[];
}

/** plain kafkajs: a fresh group from the beginning, eachBatch counts; time from first batch to the N-th record */
async function plainConsume(): Promise<Leg> {
  const consumer = kafka.consumer({ groupId: `${run}.plain`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: input, fromBeginning: true });
  let count = 0;
  let first = 0;
  let last = 0;
  const rss = rssSampler();
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      partitionsConsumedConcurrently: PARTS,
      eachBatch: async ({ batch }) => {
        if (!first) first = performance.now();
        count += batch.messages.length;
        if (count >= N && !last) {
          last = performance.now();
          resolve();
        }
      },
    });
  });
  await done;
  const samples = rss();
  await consumer.disconnect();
  const seconds = (last - first) / 1000;
  return { rate: N / seconds, seconds, rss: samples };
}

/** the runtime's exactly-once passthrough stage, generation 2 of a stage whose first generation never ran: offset zero */
async function replayStage(): Promise<Leg> {
  const name = `bench-replay-${Date.now().toString(36)}`;
  let count = 0;
  let first = 0;
  let last = 0;
  let resolve: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  const off = subscribe('batch', (b) => {
    if (b.stage !== name) return;
    if (!first) first = performance.now() - b.batchMs;
    count += b.recordsIn;
    if (count >= N && !last) {
      last = performance.now();
      resolve();
    }
  });
  const stage = defineStage({
    name,
    generation: 2,
    model: { name: 'passthrough', version: '1' },
    input: { topic: input, codec: bytesCodec() },
    output: { topic: output, codec: bytesCodec() },
    dlq: { topic: `${output}.dlq` },
    config: {
      mode: 'exactly-once',
      batch: { maxRecords: BATCH, lingerMs: 20 },
      buffer: { maxRecords: 5 * BATCH, maxBytes: 32 << 20 },
    },
    map: (r) => r.value,
  });
  const rss = rssSampler();
  const progress = setInterval(() => log(`  replay: ${count}/${N}, rss ${mb(process.memoryUsage.rss())} MB`), 10_000);
  const running = await runStage(stage, { kafka });
  await done;
  clearInterval(progress);
  const samples = rss();
  off();
  await running.stop();
  const seconds = (last - first) / 1000;
  return { rate: N / seconds, seconds, rss: samples };
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const half = Math.floor(xs.length / 2);
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
  return {
    minMB: mb(s[0] ?? 0),
    medianMB: mb(med(xs)),
    maxMB: mb(s[s.length - 1] ?? 0),
    // flat, not growing with the log: the second half of the run against the first
    firstHalfMedianMB: mb(med(xs.slice(0, half))),
    secondHalfMedianMB: mb(med(xs.slice(half))),
    samples: xs.length,
  };
}

await createTopics(kafka, [
  { topic: input, numPartitions: PARTS },
  { topic: output, numPartitions: PARTS },
  { topic: `${output}.dlq`, numPartitions: 1 },
]);
let plain: Leg;
let replay: Leg;
try {
  await seed();
  log('plain kafkajs consume from offset zero…');
  plain = await plainConsume();
  log(`  ${Math.round(plain.rate)} records/s in ${plain.seconds.toFixed(1)} s`);
  log('passthrough stage replay (exactly-once runtime) from offset zero…');
  replay = await replayStage();
  log(`  ${Math.round(replay.rate)} records/s in ${replay.seconds.toFixed(1)} s`);
} finally {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [input, output, `${output}.dlq`] }).catch(() => {});
  await admin.disconnect();
}
const out = {
  records: N,
  partitions: PARTS,
  valueBytes: VALUE,
  batch: BATCH,
  plainConsumeRecordsPerSec: Math.round(plain.rate),
  replayRecordsPerSec: Math.round(replay.rate),
  ratioReplayToPlain: Number((replay.rate / plain.rate).toFixed(3)),
  rssPlain: stats(plain.rss),
  rssReplay: stats(replay.rss),
  rssReplaySeriesMB: replay.rss.map(mb),
  loadAverage1m: Number(loadavg()[0]?.toFixed(1)),
};
if (values.json) console.log(JSON.stringify(out));
else {
  console.log(`replay of a passthrough stage from offset zero — ${N} records × ${VALUE} B, ${PARTS} partitions`);
  console.log(
    `  plain kafkajs consume          ${out.plainConsumeRecordsPerSec} records/s (${plain.seconds.toFixed(1)} s)`,
  );
  console.log(`  exactly-once stage replay      ${out.replayRecordsPerSec} records/s (${replay.seconds.toFixed(1)} s)`);
  console.log(`  replay / plain                 ${out.ratioReplayToPlain}`);
  const r = out.rssReplay;
  console.log(
    `  RSS during replay (1 s samples, n=${r.samples}): min ${r.minMB} / median ${r.medianMB} / max ${r.maxMB} MB; ` +
      `first-half median ${r.firstHalfMedianMB} MB, second-half ${r.secondHalfMedianMB} MB`,
  );
  const p = out.rssPlain;
  console.log(`  RSS during plain consume: min ${p.minMB} / median ${p.medianMB} / max ${p.maxMB} MB`);
  console.log(`  RSS series (MB): ${out.rssReplaySeriesMB.join(' ')}`);
  console.log(`  load average (1 min) at the end: ${out.loadAverage1m}`);
}
process.exit(0);
