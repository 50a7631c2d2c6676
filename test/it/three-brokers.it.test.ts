import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@feedlog/common';
import {
  bootstrapServers,
  type KafkaClusterSpec,
  prepareKafka,
  startKafkaCluster,
  startKafkaNode,
  stopKafkaCluster,
  stopKafkaNode,
} from '@feedlog/scripts/launch/kafka';
import { waitFor } from '@feedlog/test';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// This test needs the project's own launcher (a JVM). Java is a requirement of every harness path
// (the global setup fetches Kafka's own tools, which run on it), so a missing runtime is a failure
// with the launcher's install hint, never a skip.

describe('a three-broker KRaft cluster started by the launcher', () => {
  const config = loadConfig();
  const dir = mkdtempSync(join(tmpdir(), 'feedlog-3b-'));
  const spec: KafkaClusterSpec = {
    dir,
    cache: config.cache,
    version: config.kafka.version,
    brokers: 3,
    port: 29092,
    controllerPort: 29192,
    heap: '384m',
  };
  const kafka = new Kafka({
    clientId: 'three-broker-test',
    brokers: bootstrapServers(spec),
    logLevel: logLevel.NOTHING,
    retry: { retries: 12, initialRetryTime: 200, maxRetryTime: 3_000 },
  });

  beforeAll(async () => {
    await startKafkaCluster(spec, () => {});
  }, 240_000);

  afterAll(async () => {
    await stopKafkaCluster(spec);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('loses nothing acked with acks=-1 while a replica is down (RF 3, min.insync.replicas 2)', async () => {
    const topic = 'replicated';
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: false, // kafkajs defaults to true
      topics: [
        { topic, numPartitions: 3, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] },
      ],
    });
    // kafkajs' waitForLeaders gives up on the first UNKNOWN_TOPIC_OR_PARTITION a broker answers
    // while the new topic's metadata is still propagating; poll until every replica is in sync.
    await waitFor(
      'the new topic fully replicated',
      async () => {
        const m = await admin.fetchTopicMetadata({ topics: [topic] });
        const parts = m.topics[0]?.partitions ?? [];
        return parts.length === 3 && parts.every((p) => p.leader >= 0 && p.isr.length === 3);
      },
      60_000,
      250,
    );
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const acked: number[] = [];
    let seq = 0;
    const produce = async (batches: number) => {
      for (let b = 0; b < batches; b++) {
        const values = Array.from({ length: 200 }, () => seq++);
        await producer.send({
          topic,
          acks: -1,
          messages: values.map((v) => ({ key: `k${v % 50}`, value: String(v) })),
        });
        acked.push(...values);
      }
    };

    await produce(10);
    // stop the leader of partition 0 hard, so the test exercises a leader failover too
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const victim = meta.topics[0]?.partitions.find((p) => p.partitionId === 0)?.leader ?? 2;
    expect(await stopKafkaNode(spec, victim, 'KILL')).not.toBe('not-running');
    await produce(20);

    await startKafkaNode(
      spec,
      prepareKafka(spec, () => {}),
      victim,
      () => {},
    );
    await waitFor(
      'the restarted broker back in every ISR',
      async () => {
        const m = await admin.fetchTopicMetadata({ topics: [topic] });
        return m.topics[0]?.partitions.every((p) => p.isr.length === 3);
      },
      120_000,
      500,
    );
    await produce(10);
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: 'verify', readUncommitted: false, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: number[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void got.push(Number(message.value?.toString())) });
    await waitFor('every acked record read back', () => got.length >= acked.length, 60_000);
    await consumer.disconnect();
    await admin.disconnect();

    expect(acked.length).toBe(8_000);
    expect(got.length).toBe(acked.length);
    expect(new Set(got).size).toBe(got.length);
    expect([...got].sort((a, b) => a - b)).toEqual(acked);
  }, 300_000);
});
