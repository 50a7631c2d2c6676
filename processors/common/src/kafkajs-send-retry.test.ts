import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/**
 * kafkajs 2.2.4 `src/producer/sendMessages.js` (patched by patches/kafkajs+2.2.4.patch, applied on
 * `npm ci` by patch-package) lost messages on a broker kill (issue #15): responses were tracked per
 * broker, so when the send to one broker failed (NOT_LEADER / connection error) and that
 * partition's leader moved to a broker that had already answered in the same round, the retry had
 * no broker left to send to and resolved: the partition's messages were never written. These tests
 * drive sendMessages with a fake cluster and fake brokers; they fail against unpatched kafkajs.
 */
const require = createRequire(import.meta.url);
const createSendMessages = require('kafkajs/src/producer/sendMessages.js') as (
  o: unknown,
) => (a: {
  acks: number;
  timeout: number;
  compression?: number;
  topicMessages: { topic: string; messages: { value: string; partition: number }[] }[];
}) => Promise<{ topicName: string; partition: number }[]>;
const { KafkaJSProtocolError } = require('kafkajs/src/errors.js') as {
  KafkaJSProtocolError: new (e: unknown) => Error;
};

type TopicData = { topic: string; partitions: { partition: number; messages: { value: string }[] }[] }[];

function notLeader(): Error {
  return new KafkaJSProtocolError({
    message: 'This server is not the leader for that topic-partition',
    type: 'NOT_LEADER_FOR_PARTITION',
    code: 6,
    retriable: true,
  });
}

/** a 2-partition topic, partition p led by broker p+1; `plan` decides each produce call's fate */
function harness(plan: (nodeId: number, call: number, data: TopicData) => Promise<void>) {
  const leaders = new Map<number, number>([
    [0, 1],
    [1, 2],
  ]);
  let afterRefresh: (() => void) | undefined;
  const written: { nodeId: number; partition: number; value: string }[] = [];
  const calls = new Map<number, number>();
  const brokers = new Map(
    [1, 2].map((nodeId) => [
      nodeId,
      {
        nodeId,
        async produce({ topicData }: { topicData: TopicData }) {
          const call = (calls.get(nodeId) ?? 0) + 1;
          calls.set(nodeId, call);
          await plan(nodeId, call, topicData);
          for (const t of topicData)
            for (const p of t.partitions)
              for (const m of p.messages) written.push({ nodeId, partition: p.partition, value: m.value });
          return {
            topics: topicData.map((t) => ({
              topicName: t.topic,
              partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0' })),
            })),
          };
        },
      },
    ]),
  );
  const metadata = () => [...leaders].map(([partitionId, leader]) => ({ partitionId, leader }));
  const cluster = {
    targetTopics: new Set<string>(),
    async refreshMetadataIfNecessary() {},
    async refreshMetadata() {
      afterRefresh?.();
      afterRefresh = undefined;
    },
    async addMultipleTargetTopics() {},
    isConnected: () => true,
    removeBroker() {},
    findTopicPartitionMetadata: () => metadata(),
    findLeaderForPartitions(_topic: string, partitions: string[]) {
      const out: Record<string, number[]> = {};
      for (const p of partitions) {
        const leader = leaders.get(Number(p));
        if (leader === undefined) continue;
        out[leader] ??= [];
        out[leader].push(Number(p));
      }
      return out;
    },
    async findBroker({ nodeId }: { nodeId: string | number }) {
      const b = brokers.get(Number(nodeId));
      if (!b) throw new Error(`no broker ${nodeId}`);
      return b;
    },
  };
  const eosManager = {
    async acquireBrokerLock() {},
    async releaseBrokerLock() {},
    isTransactional: () => false,
    getSequence: () => 0,
    updateSequence() {},
    getProducerId: () => -1,
    getProducerEpoch: () => 0,
    getTransactionalId: () => undefined,
  };
  // kafkajs's retrier contract: fn(bail, retryCount, retryTime), retried while it throws
  const retrier = async <T>(fn: (bail: (e: Error) => never, n: number, t: number) => Promise<T>): Promise<T> => {
    let last: unknown;
    for (let n = 0; n < 5; n++) {
      try {
        return await fn(
          (e) => {
            throw e;
          },
          n,
          0,
        );
      } catch (e) {
        last = e;
      }
    }
    throw last;
  };
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  const send = createSendMessages({
    logger,
    cluster,
    partitioner: ({ message }: { message: { partition: number } }) => message.partition,
    eosManager,
    retrier,
  });
  return {
    send,
    written,
    leaders,
    onRefresh(f: () => void) {
      afterRefresh = f;
    },
  };
}

const messages = [
  { value: 'a', partition: 0 },
  { value: 'b', partition: 1 },
  { value: 'c', partition: 0 },
  { value: 'd', partition: 1 },
];

describe('kafkajs sendMessages retry (patched)', () => {
  it('re-sends a failed partition whose leader moved to a broker that already answered', async () => {
    const h = harness(async (nodeId, call) => {
      if (nodeId === 2 && call === 1) {
        // broker 2 lost leadership of partition 1 to broker 1 (which answers for partition 0)
        h.onRefresh(() => h.leaders.set(1, 1));
        throw notLeader();
      }
    });
    const res = await h.send({ acks: -1, timeout: 1000, topicMessages: [{ topic: 't', messages }] });
    expect(h.written.map((w) => w.value).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(h.written.filter((w) => w.partition === 1).every((w) => w.nodeId === 1)).toBe(true);
    expect(res.map((r) => r.partition).sort()).toEqual([0, 1]);
  });

  it('waits for the in-flight request of the round before retrying, and sends each partition once', async () => {
    let releaseSlow: () => void = () => {};
    const slow = new Promise<void>((r) => {
      releaseSlow = r;
    });
    const h = harness(async (nodeId, call) => {
      if (nodeId === 1 && call === 1) await slow; // broker 1 still writing partition 0
      if (nodeId === 2 && call === 1) {
        h.onRefresh(() => h.leaders.set(1, 1));
        setTimeout(releaseSlow, 20);
        throw notLeader();
      }
    });
    await h.send({ acks: -1, timeout: 1000, topicMessages: [{ topic: 't', messages }] });
    await slow;
    await new Promise((r) => setTimeout(r, 10));
    // upstream retried at once, re-sending partition 0 to broker 1 while its first write was in flight
    expect(h.written.map((w) => w.value).sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('fails the attempt (retriable) for a partition with no leader instead of dropping it', async () => {
    const h = harness(async () => {});
    h.leaders.set(1, -1);
    h.onRefresh(() => h.leaders.set(1, 2));
    await h.send({ acks: -1, timeout: 1000, topicMessages: [{ topic: 't', messages }] });
    expect(h.written.map((w) => w.value).sort()).toEqual(['a', 'b', 'c', 'd']);
  });
});
