import { testKafka, uniqueName, waitFor } from '@feedlog/test';
import { describe, expect, it } from 'vitest';

describe('the real broker', () => {
  it('delivers 20,000 keyed messages through a consumer group in per-key order, offsets committed to the end', async () => {
    const kafka = testKafka();
    const topic = uniqueName('roundtrip');
    const groupId = uniqueName('roundtrip-group');
    const total = 20_000;
    const keys = 250;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 6, replicationFactor: 1 }], waitForLeaders: true });

    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    for (let i = 0; i < total; i += 1_000) {
      const messages = Array.from({ length: 1_000 }, (_, j) => {
        const n = i + j;
        return { key: `k${n % keys}`, value: `${Math.floor(n / keys)}` };
      });
      await producer.send({ topic, acks: -1, messages });
    }
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 50 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen = new Map<string, number[]>();
    const keyPartition = new Map<string, number>();
    let count = 0;
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const key = message.key?.toString() ?? '';
        const list = seen.get(key) ?? [];
        list.push(Number(message.value?.toString()));
        seen.set(key, list);
        expect(keyPartition.get(key) ?? partition).toBe(partition);
        keyPartition.set(key, partition);
        count++;
      },
    });
    await waitFor('all messages consumed', () => count >= total, 60_000);

    expect(count).toBe(total);
    expect(seen.size).toBe(keys);
    for (const [, seqs] of seen) {
      expect(seqs).toEqual(Array.from({ length: total / keys }, (_, i) => i));
    }
    // the keys spread over every partition (the default partitioner hashes keys)
    expect(new Set(keyPartition.values()).size).toBe(6);

    const ends = await admin.fetchTopicOffsets(topic);
    await waitFor(
      'committed offsets at the log end',
      async () => {
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        return ends.every((e) => committed?.partitions.find((p) => p.partition === e.partition)?.offset === e.offset);
      },
      15_000,
      200,
    );
    const sumEnds = ends.reduce((s, e) => s + Number(e.offset), 0);
    expect(sumEnds).toBe(total);
    await consumer.disconnect();
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
  });
});
