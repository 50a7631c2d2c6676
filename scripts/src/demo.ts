import { createKafka, type FeedlogConfig } from '@feedlog/common';
import { CompressionTypes } from 'kafkajs';
import type { Log } from './stack.ts';

export interface DemoResult {
  topic: string;
  partitions: number;
  produced: number;
  consumed: number;
  keysOutOfOrder: number;
  produceSeconds: number;
  consumeSeconds: number;
  producedPerSecond: number;
  consumedPerSecond: number;
}

/**
 * The foundation demo: a 6-partition topic, a few thousand keyed messages through the real broker,
 * read back by a consumer group, with per-key order checked.
 */
export async function runKafkaDemo(config: FeedlogConfig, log: Log, count = 5_000): Promise<DemoResult> {
  const kafka = createKafka(config, { clientId: 'feedlog-demo' });
  const topic = `demo.events.${Date.now().toString(36)}`;
  const partitions = 6;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  await admin.disconnect();

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
  await producer.connect();
  const keys = 100;
  const t0 = performance.now();
  const batch = 500;
  for (let i = 0; i < count; i += batch) {
    const messages = [];
    for (let j = i; j < Math.min(count, i + batch); j++) {
      messages.push({ key: `key-${j % keys}`, value: JSON.stringify({ seq: Math.floor(j / keys), n: j }) });
    }
    await producer.send({ topic, messages, acks: -1, compression: CompressionTypes.None });
    log(`produced ${Math.min(count, i + batch)}/${count}`);
  }
  const produceSeconds = (performance.now() - t0) / 1000;
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: `${topic}.reader`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const lastSeq = new Map<string, number>();
  let consumed = 0;
  let outOfOrder = 0;
  const t1 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed only ${consumed}/${count} within 60 s`)), 60_000);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          const key = message.key?.toString() ?? '';
          const { seq } = JSON.parse(message.value?.toString() ?? '{}') as { seq: number };
          if ((lastSeq.get(key) ?? -1) >= seq) outOfOrder++;
          lastSeq.set(key, seq);
          consumed++;
          if (consumed === count) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  const consumeSeconds = (performance.now() - t1) / 1000;
  await consumer.disconnect();
  return {
    topic,
    partitions,
    produced: count,
    consumed,
    keysOutOfOrder: outOfOrder,
    produceSeconds,
    consumeSeconds,
    producedPerSecond: count / produceSeconds,
    consumedPerSecond: count / consumeSeconds,
  };
}
