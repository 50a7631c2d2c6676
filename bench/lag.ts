// Cost of one LagMonitor.sample() with many groups: --groups groups (default 50), each reading one
// --partitions-partition topic (default 12; groups share --topics topics, default 10), every
// partition lagging, with transaction markers in the logs.
//   1. cold: the first sample of a new monitor (connect, metadata, every record peek)
//   2. steady: nothing moves between samples (peeks answered from the cache)
//   3. moving: every group's committed offsets move before each sample (not timed), so every
//      partition is peeked again: the worst case of a busy pipeline
// Reference, same groups: Kafka's own `kafka-consumer-groups --describe` (one JVM per call).
//   npx tsx bench/lag.ts [--groups 50] [--partitions 12] [--topics 10] [--samples 30] [--json]
// Needs Kafka (`node bin/feedlog up`); creates its own topics and groups and deletes them.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createKafka, loadConfig } from '@feedlog/common';
import { LagMonitor } from '@feedlog/lag';
import { ensureKafkaTools, runKafkaTool } from '@feedlog/scripts/launch/kafka-tools';

const args = process.argv.slice(2);
const opt = (name: string, d: string) => (args.includes(name) ? (args[args.indexOf(name) + 1] ?? d) : d);
const GROUPS = Number(opt('--groups', '50'));
const PARTS = Number(opt('--partitions', '12'));
const TOPICS = Number(opt('--topics', '10'));
const SAMPLES = Number(opt('--samples', '30'));
const PER_PARTITION = 40;
const asJson = args.includes('--json');
const log = (s: string) => process.stderr.write(`${s}\n`);

const cfg = loadConfig();
const kafka = createKafka(cfg, { clientId: 'bench-lag' });
const run = `bench-lag-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const topics = Array.from({ length: TOPICS }, (_, i) => `${run}.t${i}`);
const groups = Array.from({ length: GROUPS }, (_, i) => ({ group: `${run}.g${i}`, topic: topics[i % TOPICS]! }));

const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { n: s.length, median: q(0.5), p95: q(0.95), min: s[0]!, max: s[s.length - 1]! };
};

async function setOffsets(admin: ReturnType<typeof kafka.admin>, shift: number) {
  await Promise.all(
    groups.map(({ group, topic }, gi) =>
      admin.setOffsets({
        groupId: group,
        topic,
        partitions: Array.from({ length: PARTS }, (_, p) => ({
          partition: p,
          offset: String(((gi + p + shift) % (PER_PARTITION / 2)) + 1),
        })),
      }),
    ),
  );
}

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  try {
    log(`[bench/lag] ${TOPICS} topics × ${PARTS} partitions, ${GROUPS} groups, ${PER_PARTITION} records per partition`);
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: PARTS })),
      waitForLeaders: true,
    });
    // half plain, half in transactions (markers in the log, as the stages write)
    const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    const tx = kafka.producer({ transactionalId: `${run}.tx`, idempotent: true, maxInFlightRequests: 1 });
    await Promise.all([plain.connect(), tx.connect()]);
    for (const topic of topics) {
      const messages = (from: number) =>
        Array.from({ length: PARTS * (PER_PARTITION / 2) }, (_, i) => ({
          partition: i % PARTS,
          key: `k${from + i}`,
          value: 'v',
        }));
      await plain.send({ topic, acks: -1, messages: messages(0) });
      const t = await tx.transaction();
      await t.send({ topic, messages: messages(PARTS * (PER_PARTITION / 2)) });
      await t.commit();
    }
    await Promise.all([plain.disconnect(), tx.disconnect()]);
    await setOffsets(admin, 0);

    const names = new Set(groups.map((g) => g.group));
    const monitor = new LagMonitor({ kafka, groups: (g) => names.has(g), minDistanceMs: 0 });
    let t0 = performance.now();
    const first = await monitor.sample();
    const cold = performance.now() - t0;
    const partitions = first.groups.reduce((a, g) => a + g.partitions.length, 0);
    if (first.groups.length !== GROUPS || partitions !== GROUPS * PARTS) {
      throw new Error(`expected ${GROUPS} groups × ${PARTS} partitions, got ${first.groups.length} / ${partitions}`);
    }
    const steady: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      t0 = performance.now();
      await monitor.sample();
      steady.push(performance.now() - t0);
    }
    const moving: number[] = [];
    for (let i = 1; i <= Math.min(SAMPLES, 15); i++) {
      await setOffsets(admin, i);
      t0 = performance.now();
      await monitor.sample();
      moving.push(performance.now() - t0);
    }
    await monitor.close();

    const lib = ensureKafkaTools(cfg.cache, cfg.kafka.version, log);
    t0 = performance.now();
    const ref = await runKafkaTool(lib, 'kafka-consumer-groups', [
      '--bootstrap-server',
      cfg.kafka.brokers.join(','),
      '--describe',
      ...groups.flatMap((g) => ['--group', g.group]),
    ]);
    const tool = performance.now() - t0;
    if (ref.code !== 0) throw new Error(`kafka-consumer-groups failed: ${ref.stderr}`);

    const result = {
      groups: GROUPS,
      partitions: GROUPS * PARTS,
      coldMs: Math.round(cold),
      steady: stats(steady),
      moving: stats(moving),
      kafkaConsumerGroupsDescribeMs: Math.round(tool),
      load: loadavg().map((l) => Number(l.toFixed(2))),
    };
    if (asJson) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      const f = (s: ReturnType<typeof stats>) =>
        `median ${s.median.toFixed(1)} ms, p95 ${s.p95.toFixed(1)} ms (n=${s.n})`;
      log(`cold first sample: ${result.coldMs} ms`);
      log(`steady sample: ${f(result.steady)}`);
      log(`moving offsets sample: ${f(result.moving)}`);
      log(`kafka-consumer-groups --describe (same groups, one JVM): ${result.kafkaConsumerGroupsDescribeMs} ms`);
      log(`load average: ${result.load.join(' ')}`);
    }
  } finally {
    await admin.deleteGroups(groups.map((g) => g.group)).catch(() => undefined);
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
