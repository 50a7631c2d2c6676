// Passthrough throughput (records/s), consume → produce on the same broker, same input, same run:
//   1. kafkajs plain loop: eachBatch → producer.sendBatch(acks=all, idempotent) → commit offsets (at-least-once)
//   2. kafkajs raw EOS loop: one transaction per fetched batch (outputs + sendOffsets), one producer per partition
//   3. feedlog runtime, exactly-once (per-partition transactional producers, decode/encode, DLQ path, traceparent),
//      at its defaults (transactions cut at 1 MiB), then with kafkajs' released encoder/partitioner
//      (FEEDLOG_KAFKAJS_FAST_PRODUCE off in-process), then as before issue 14 (500 records a
//      transaction, buffer 5,000, pausing at once, released kafkajs produce path)
//   4. feedlog runtime, at-least-once
// The raw EOS loop runs with the kafkajs feedlog runs (fast produce modules) and as released.
//   5. @platformatic/kafka plain loop (consume stream → send → commit)  [--no-platformatic to skip]
//   6. @platformatic/kafka EOS loop: one transactional producer, offsets with the group's generation (KIP-447)
// Ratios are against (1). Every variant uses a fresh consumer group and output topic.
//   npx tsx bench/passthrough.ts [--rounds 3] [--records 100000] [--partitions 4] [--value-bytes 200] [--batch N (runtime maxRecords; default: the runtime's defaults)]
//                                [--only <substring of a variant name>] [--no-platformatic] [--json]
//                                [--cpu-prof-dir <dir>] (one CPU profile per variant and round, seeding left out)
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createKafka, loadConfig } from '@feedlog/common';
import { fastProduceState, setFastProduce } from '@feedlog/common/kafkajs-fast-produce';
import { Consumer as PConsumer, type Message as PMessage, Producer as PProducer } from '@platformatic/kafka';
import type { Kafka } from 'kafkajs';
import { platformaticClient } from '../processors/runtime/src/client/platformatic.ts';
import { bytesCodec, defineStage, runStage, subscribe } from '../processors/runtime/src/index.ts';
import { profiled } from './lib/cpu-profile.ts';

const args = process.argv.slice(2);
const opt = (name: string, d: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) || d : d);
const N = opt('--records', 100_000);
const PARTS = opt('--partitions', 4);
const VALUE = opt('--value-bytes', 200);
const asJson = args.includes('--json');
const withPlatformatic = !args.includes('--no-platformatic');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const BATCH = opt('--batch', 0);
const profDir = args.includes('--cpu-prof-dir') ? args[args.indexOf('--cpu-prof-dir') + 1] : undefined;
const cfg = loadConfig();
const kafka = createKafka(cfg, { clientId: 'bench-passthrough' });
const run = `bench.passthrough.${Date.now().toString(36)}`;
const input = `${run}.in`;
const log = (s: string) => process.stderr.write(`${s}\n`);

async function createTopic(k: Kafka, topic: string, partitions = PARTS) {
  const admin = k.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
  });
  await admin.disconnect();
}

async function seed() {
  await createTopic(kafka, input);
  const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  const value = randomBytes(VALUE / 2).toString('hex');
  for (let i = 0; i < N; i += 5_000) {
    const messages = [];
    for (let j = i; j < Math.min(N, i + 5_000); j++) messages.push({ key: `k${j}`, value });
    await p.send({ topic: input, acks: -1, messages });
  }
  await p.disconnect();
}

/** time from the first record handled to the last one committed */
class Clock {
  first = 0;
  done = 0;
  count = 0;
  private resolve: () => void = () => {};
  readonly finished = new Promise<void>((r) => {
    this.resolve = r;
  });
  start() {
    if (!this.first) this.first = performance.now();
  }
  add(n: number) {
    this.count += n;
    if (this.count >= N && !this.done) {
      this.done = performance.now();
      this.resolve();
    }
  }
  get rate() {
    return N / ((this.done - this.first) / 1000);
  }
}

async function kafkajsPlain(name: string): Promise<number> {
  const out = `${run}.${name}`;
  await createTopic(kafka, out);
  const clock = new Clock();
  // one idempotent producer per partition, like the EOS loop, so the only difference is the transaction
  const producers = new Map<number, ReturnType<Kafka['producer']>>();
  const consumer = kafka.consumer({ groupId: `${run}.${name}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: input, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: PARTS,
    eachBatch: async ({ batch }) => {
      clock.start();
      let p = producers.get(batch.partition);
      if (!p) {
        p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
        await p.connect();
        producers.set(batch.partition, p);
      }
      await p.sendBatch({
        acks: -1,
        topicMessages: [{ topic: out, messages: batch.messages.map((m) => ({ key: m.key, value: m.value })) }],
      });
      await consumer.commitOffsets([
        { topic: input, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) },
      ]);
      clock.add(batch.messages.length);
    },
  });
  await clock.finished;
  await consumer.disconnect();
  for (const p of producers.values()) await p.disconnect();
  return clock.rate;
}

async function kafkajsEos(name: string): Promise<number> {
  const out = `${run}.${name}`;
  const groupId = `${run}.${name}`;
  await createTopic(kafka, out);
  const clock = new Clock();
  const producers = new Map<number, ReturnType<Kafka['producer']>>();
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic: input, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: PARTS,
    eachBatch: async ({ batch }) => {
      clock.start();
      let p = producers.get(batch.partition);
      if (!p) {
        p = kafka.producer({
          transactionalId: `${groupId}.${batch.partition}`,
          idempotent: true,
          maxInFlightRequests: 1,
        });
        await p.connect();
        producers.set(batch.partition, p);
      }
      const tx = await p.transaction();
      await tx.sendBatch({
        acks: -1,
        topicMessages: [{ topic: out, messages: batch.messages.map((m) => ({ key: m.key, value: m.value })) }],
      });
      await tx.sendOffsets({
        consumerGroupId: groupId,
        topics: [
          {
            topic: input,
            partitions: [{ partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }],
          },
        ],
      });
      await tx.commit();
      clock.add(batch.messages.length);
    },
  });
  await clock.finished;
  await consumer.disconnect();
  for (const p of producers.values()) await p.disconnect();
  return clock.rate;
}

/** `legacy`: the runtime's loop and batch size as before issue 14 */
async function runtime(
  name: string,
  mode: 'exactly-once' | 'at-least-once',
  legacy = false,
  client: 'kafkajs' | 'platformatic' = 'kafkajs',
): Promise<number> {
  const out = `${run}.${name}`;
  await createTopic(kafka, out);
  await createTopic(kafka, `${out}.dlq`, 1);
  const clock = new Clock();
  const stageName = `bench-${name}-${Date.now().toString(36)}`;
  const sum = { batches: 0, batchMs: 0, commitMs: 0, transformMs: 0 };
  const off = subscribe('batch', (b) => {
    if (b.stage !== stageName) return;
    if (!clock.first) clock.first = performance.now() - b.batchMs;
    sum.batches++;
    sum.batchMs += b.batchMs;
    sum.commitMs += b.commitMs;
    sum.transformMs += b.transformMs;
    clock.add(b.recordsIn);
  });
  const stage = defineStage({
    name: stageName,
    generation: 1,
    model: { name: 'passthrough', version: '1' },
    input: { topic: input, codec: bytesCodec() },
    output: { topic: out, codec: bytesCodec() },
    dlq: { topic: `${out}.dlq` },
    config: legacy
      ? {
          mode,
          batch: { maxRecords: 500, maxBytes: 64 << 20, lingerMs: 50 },
          buffer: { maxRecords: 5_000, maxBytes: 16 << 20 },
          backpressureBlockMs: 0,
        }
      : BATCH > 0
        ? {
            mode,
            batch: { maxRecords: BATCH, maxBytes: 64 << 20, lingerMs: 20 },
            buffer: { maxRecords: 5 * BATCH, maxBytes: 32 << 20 },
          }
        : { mode },
    map: (r) => r.value,
  });
  const running = await runStage(stage, {
    kafka,
    ...(client === 'platformatic'
      ? { client: platformaticClient({ clientId: `bench-${name}`, brokers: cfg.kafka.brokers }) }
      : {}),
  });
  await clock.finished;
  off();
  const per = (x: number) => (x / sum.batches).toFixed(1);
  log(
    `  ${name}: ${sum.batches} transactions, ${Math.round(N / sum.batches)} records each; per batch ${per(sum.batchMs)} ms (transform ${per(sum.transformMs)}, commit ${per(sum.commitMs)})`,
  );
  await running.stop();
  return clock.rate;
}

const pOpts = () => ({ clientId: 'bench-platformatic', bootstrapBrokers: cfg.kafka.brokers });

/** a consume stream cut into batches: up to `max` buffered records per call, or what arrived within `lingerMs` */
async function platformatic(name: string, eos: boolean): Promise<number> {
  const out = `${run}.${name}`;
  const groupId = `${run}.${name}`;
  await createTopic(kafka, out);
  const clock = new Clock();
  const consumer = new PConsumer({ ...pOpts(), groupId });
  const producer = new PProducer({
    ...pOpts(),
    idempotent: true,
    ...(eos ? { transactionalId: `${groupId}.tx` } : {}),
  });
  const stream = await consumer.consume({
    topics: [input],
    mode: 'earliest',
    autocommit: false,
    maxWaitTime: 100,
    isolationLevel: 1, // READ_COMMITTED
  });
  const buffer: PMessage<Buffer, Buffer, Buffer, Buffer>[] = [];
  stream.on('data', (m) => {
    buffer.push(m);
    if (buffer.length > 20_000) stream.pause();
  });
  while (clock.count < N) {
    if (buffer.length === 0) {
      await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    clock.start();
    const batch = buffer.splice(0, 4_000);
    if (stream.isPaused() && buffer.length < 10_000) stream.resume();
    const messages = batch.map((m) => ({ topic: out, key: m.key, value: m.value }));
    const last = new Map<number, PMessage<Buffer, Buffer, Buffer, Buffer>>();
    for (const m of batch) last.set(m.partition, m);
    if (eos) {
      const tx = await producer.beginTransaction();
      await tx.send({ messages, acks: -1 });
      await tx.addConsumer(consumer);
      for (const m of last.values()) await tx.addOffset(m);
      await tx.commit();
    } else {
      await producer.send({ messages, acks: -1 });
      for (const m of last.values()) await m.commit();
    }
    clock.add(batch.length);
  }
  await stream.close();
  await consumer.close();
  await producer.close();
  return clock.rate;
}

/** run with kafkajs' own record encoder and partitioner (the modules feedlog replaces) */
async function released<T>(fn: () => Promise<T>): Promise<T> {
  setFastProduce(false);
  try {
    return await fn();
  } finally {
    setFastProduce(true);
  }
}

log(`kafkajs fast produce: ${fastProduceState()}`);
await seed();
log(`seeded ${N} records of ${VALUE} bytes in ${PARTS} partitions (${input})`);
const ROUNDS = opt('--rounds', 3);
const samples: Record<string, number[]> = {};
const variants: [string, () => Promise<number>][] = [
  ['kafkajs plain (consume→produce→commit)', () => kafkajsPlain(`plain${round}`)],
  ['kafkajs raw EOS (txn per fetched batch)', () => kafkajsEos(`raweos${round}`)],
  ['kafkajs raw EOS, released produce path', () => released(() => kafkajsEos(`raweosrel${round}`))],
  ['runtime exactly-once (kafkajs)', () => runtime(`rteos${round}`, 'exactly-once')],
  ['runtime exactly-once, released produce path', () => released(() => runtime(`rteosrel${round}`, 'exactly-once'))],
  ['runtime exactly-once, before issue 14', () => released(() => runtime(`rteold${round}`, 'exactly-once', true))],
  ['runtime at-least-once (kafkajs)', () => runtime(`rtalo${round}`, 'at-least-once')],
];
if (withPlatformatic) {
  variants.push(['@platformatic/kafka plain', () => platformatic(`pplain${round}`, false)]);
  variants.push(['@platformatic/kafka EOS (txn per batch)', () => platformatic(`peos${round}`, true)]);
  // the runtime on its @platformatic/kafka 2.x backend (FEEDLOG_KAFKA_CLIENT=platformatic)
  variants.push([
    'runtime exactly-once (platformatic 2.x)',
    () => runtime(`rtpeos${round}`, 'exactly-once', false, 'platformatic'),
  ]);
}
// interleaved rounds: a burst of load from elsewhere on the machine hits every variant alike
let round = 0;
for (round = 0; round < ROUNDS; round++) {
  for (const [name, fn] of variants.filter(([n]) => !only || only.split('|').some((o) => n.includes(o)))) {
    try {
      const r = await profiled(profDir, `${name}-r${round + 1}`, fn);
      samples[name] = [...(samples[name] ?? []), r];
      log(`round ${round + 1}: ${name}: ${Math.round(r)} records/s`);
    } catch (e) {
      log(`${name}: FAILED ${(e as Error).stack ?? e}`);
    }
  }
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[s.length >> 1] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const results = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
const baseline = results['kafkajs plain (consume→produce→commit)'] ?? Number.NaN;
const eosBase = results['kafkajs raw EOS (txn per fetched batch)'] ?? Number.NaN;
if (asJson)
  console.log(JSON.stringify({ records: N, partitions: PARTS, valueBytes: VALUE, rounds: ROUNDS, samples, results }));
else {
  console.log(
    `passthrough, ${N} records × ${VALUE} B, ${PARTS} partitions, one broker; median of ${ROUNDS} interleaved rounds`,
  );
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `${name.padEnd(44)} ${String(Math.round(r)).padStart(8)} rec/s   ×${(r / baseline).toFixed(2)} vs kafkajs plain   ×${(r / eosBase).toFixed(2)} vs kafkajs raw EOS`,
    );
  }
  const pe = results['@platformatic/kafka EOS (txn per batch)'];
  const pp = results['@platformatic/kafka plain'];
  if (pe && pp)
    console.log(
      `EOS cost: kafkajs ×${(eosBase / baseline).toFixed(2)} of plain, @platformatic/kafka ×${(pe / pp).toFixed(2)} of plain`,
    );
}
const admin = kafka.admin();
await admin.connect();
const topics = (await admin.listTopics()).filter((t) => t.startsWith(run));
await admin.deleteTopics({ topics }).catch(() => {});
await admin.disconnect();
process.exit(0);
