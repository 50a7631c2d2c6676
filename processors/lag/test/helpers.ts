import { setTimeout as sleep } from 'node:timers/promises';
import { kafkaTool } from '@feedlog/test/kafka-tools';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { LagMonitor, type LagMonitorOptions } from '../src/index.ts';

export async function createTopic(admin: Admin, topic: string, partitions: number): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
}

/** `count` keyed records over the topic's partitions, plain (idempotent) or in one transaction per call. */
export async function produce(
  kafka: Kafka,
  topic: string,
  count: number,
  opts: { transactionalId?: string; from?: number } = {},
): Promise<void> {
  const messages = Array.from({ length: count }, (_, i) => ({
    key: `k${(opts.from ?? 0) + i}`,
    value: `v${(opts.from ?? 0) + i}`,
  }));
  if (opts.transactionalId) {
    const p = kafka.producer({ transactionalId: opts.transactionalId, idempotent: true, maxInFlightRequests: 1 });
    await p.connect();
    const tx = await p.transaction();
    await tx.send({ topic, messages });
    await tx.commit();
    await p.disconnect();
    return;
  }
  const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  await p.send({ topic, acks: -1, messages });
  await p.disconnect();
}

/** A live group member reading the topic from the beginning; `consumed` counts the records it saw. */
export async function startConsumer(
  kafka: Kafka,
  groupId: string,
  topic: string,
  opts: { stopAfter?: number } = {},
): Promise<{ consumer: Consumer; consumed: () => number }> {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let n = 0;
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({
    autoCommitInterval: 100,
    eachMessage: async () => {
      n++;
      if (opts.stopAfter !== undefined && n >= opts.stopAfter) consumer.pause([{ topic }]);
    },
  });
  await joined;
  return { consumer, consumed: () => n };
}

/** A monitor for one group with a window short enough for a test. */
export function testMonitor(kafka: Kafka, group: string, extra: Partial<LagMonitorOptions> = {}): LagMonitor {
  return new LagMonitor({ kafka, groups: [group], intervals: 5, minDistanceMs: 0, ...extra });
}

export interface DescribeRow {
  topic: string;
  partition: number;
  current: number | null;
  logEnd: number;
  lag: number | null;
  consumerId: string | null;
  host: string | null;
  clientId: string | null;
}

/** `kafka-consumer-groups --describe --group G`, parsed: Kafka's own figures. */
export async function describeGroup(group: string): Promise<DescribeRow[]> {
  const r = await kafkaTool('kafka-consumer-groups', ['--describe', '--group', group]);
  if (r.code !== 0) throw new Error(`kafka-consumer-groups failed: ${r.stderr}`);
  const dash = (v: string | undefined) => (v === undefined || v === '-' ? null : v);
  const num = (v: string | undefined) => (dash(v) === null ? null : Number(v));
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c[0] === group)
    .map((c) => ({
      topic: c[1]!,
      partition: Number(c[2]),
      current: num(c[3]),
      logEnd: Number(c[4]),
      lag: num(c[5]),
      consumerId: dash(c[6]),
      host: dash(c[7]),
      clientId: dash(c[8]),
    }))
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** Samples until `probe` accepts the report (returns it), spacing samples by `gapMs`. */
export async function sampleUntil<T>(
  monitor: LagMonitor,
  probe: (r: Awaited<ReturnType<LagMonitor['sample']>>) => T | undefined | false,
  opts: { timeoutMs?: number; gapMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  while (Date.now() < deadline) {
    const r = await monitor.sample();
    const v = probe(r);
    if (v !== undefined && v !== false) return v;
    last = r.groups.map((g) => ({ group: g.group, state: g.state, status: g.status, lag: g.lag }));
    await sleep(opts.gapMs ?? 250);
  }
  throw new Error(`timed out waiting for ${opts.what ?? 'a report'}; last: ${JSON.stringify(last)}`);
}
