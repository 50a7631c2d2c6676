import { loadConfig } from '@feedlog/common';
import { Admin, Consumer, compatibilityPartitioner, Producer } from '@platformatic/kafka';
import { unwrapped } from './platformatic-errors.ts';
import { PlatformaticFetcher } from './platformatic-fetch.ts';
import type {
  ClientAdmin,
  ClientProducer,
  ClientTransaction,
  ProduceMessage,
  ProducerOptions,
  StageClient,
  TopicMessages,
} from './types.ts';

const buf = (x: Buffer | string | null | undefined): Buffer | undefined =>
  x == null ? undefined : Buffer.isBuffer(x) ? x : Buffer.from(x);

/** kafkajs' message shape → @platformatic/kafka's (Buffers in, Buffers out: no serialisers) */
function toMessages(topicMessages: TopicMessages[]) {
  return topicMessages.flatMap(({ topic, messages }) =>
    messages.map((m: ProduceMessage) => {
      const headers = new Map<Buffer, Buffer>();
      for (const [k, v] of Object.entries(m.headers ?? {})) {
        const b = buf(v);
        if (b) headers.set(Buffer.from(k), b);
      }
      return {
        topic,
        key: buf(m.key),
        value: buf(m.value),
        headers,
        ...(m.timestamp === undefined ? {} : { timestamp: BigInt(m.timestamp) }),
      };
    }),
  );
}

export interface PlatformaticOptions {
  clientId: string;
  brokers?: string[];
}

/**
 * The @platformatic/kafka 2.x backend. Producer: its transactions, with offsets added through a
 * consumer-less TxnOffsetCommit (generation -1: no KIP-447 check, like kafkajs), the Java murmur2
 * partitioner (same partitions as kafkajs and the Java client), producer id/epoch -1/-1 on
 * InitProducerId (its default 0/0 is refused as fenced). Consumer: the group membership of its
 * `Consumer` (join, heartbeats, rejoin) and a fetch loop of our own (`platformatic-fetch.ts`):
 * per-partition pause/resume/seek, read_committed with aborted transactions filtered.
 * Committed offsets through the Admin client with `requireStable`.
 */
export function platformaticClient(o: PlatformaticOptions): StageClient {
  const bootstrapBrokers = o.brokers ?? loadConfig().kafka.brokers;
  const base = { clientId: o.clientId, bootstrapBrokers, retries: 5, retryDelay: 250 };
  // group id → coordinator node, for TxnOffsetCommit
  const coordinators = new Map<string, Promise<number>>();
  const coordinatorOf = (groupId: string): Promise<number> => {
    let c = coordinators.get(groupId);
    if (!c) {
      const probe = new Consumer({ ...base, groupId });
      c = probe.findGroupCoordinator().finally(() => void probe.close().catch(() => {}));
      c.catch(() => coordinators.delete(groupId));
      coordinators.set(groupId, c);
    }
    return c;
  };

  return {
    name: 'platformatic',
    producer: (p) => platformaticProducer(base, p, coordinatorOf, (g) => coordinators.delete(g)),
    consumer: (c) => new PlatformaticFetcher(base, c),
    admin: () => platformaticAdmin(base),
  };
}

function platformaticProducer(
  base: { clientId: string; bootstrapBrokers: string[] },
  p: ProducerOptions,
  coordinatorOf: (groupId: string) => Promise<number>,
  forgetCoordinator: (groupId: string) => void,
): ClientProducer {
  const producer = new Producer({
    ...base,
    idempotent: true,
    ...(p.transactionalId ? { transactionalId: p.transactionalId, producerId: -1n, producerEpoch: -1 } : {}),
    ...(p.transactionTimeout ? { timeout: Math.min(p.transactionTimeout, 60_000) } : {}),
    acks: -1,
    autocreateTopics: false,
    partitioner: compatibilityPartitioner,
  });
  return {
    async connect() {},
    disconnect: () => producer.close().catch(() => {}),
    async sendBatch({ topicMessages }) {
      return unwrapped('produce', producer.send({ messages: toMessages(topicMessages) }));
    },
    async transaction(): Promise<ClientTransaction> {
      const tx = await unwrapped('begin transaction', producer.beginTransaction());
      let dirty = false;
      return {
        async sendBatch({ topicMessages }) {
          dirty = true;
          return unwrapped('produce in transaction', tx.send({ messages: toMessages(topicMessages) }));
        },
        async sendOffsets({ consumerGroupId, topics }) {
          dirty = true;
          const coordinatorId = await coordinatorOf(consumerGroupId);
          try {
            await tx.addConsumer({ groupId: consumerGroupId } as unknown as Consumer);
            for (const t of topics)
              for (const x of t.partitions)
                await tx.addOffset({
                  topic: t.topic,
                  partition: x.partition,
                  // addOffset commits offset + 1: the offset of the last processed record
                  offset: BigInt(x.offset) - 1n,
                  key: undefined,
                  value: undefined,
                  headers: new Map(),
                  timestamp: 0n,
                  commit: () => {},
                  metadata: { consumer: { groupId: consumerGroupId, generationId: -1, memberId: '', coordinatorId } },
                } as never);
          } catch (e) {
            forgetCoordinator(consumerGroupId);
            await unwrapped('offsets in transaction', Promise.reject(e));
          }
        },
        async commit() {
          await unwrapped('commit transaction', tx.commit());
        },
        async abort() {
          // nothing was sent (the registering transaction of `init`): no EndTxn to send
          await unwrapped('abort transaction', dirty ? tx.abort() : tx.cancel());
        },
        isActive: () => !tx.completed,
      };
    },
  };
}

function platformaticAdmin(base: { clientId: string; bootstrapBrokers: string[] }): ClientAdmin {
  const admin = new Admin(base);
  return {
    async connect() {},
    disconnect: () => admin.close().catch(() => {}),
    async committedOffsets(groupId, topic) {
      const groups = await unwrapped(
        'committed offsets',
        admin.listConsumerGroupOffsets({ groups: [{ groupId, topics: null }], requireStable: true }),
      );
      const out = new Map<number, number>();
      for (const g of groups)
        for (const t of g.topics)
          if (t.name === topic) for (const x of t.partitions) out.set(x.partitionIndex, Number(x.committedOffset));
      return out;
    },
    async topicEnds(topic) {
      const meta = await admin.metadata({ topics: [topic] });
      const n = meta.topics.get(topic)?.partitionsCount ?? 0;
      const ask = (timestamp: bigint) =>
        admin.listOffsets({
          topics: [
            { name: topic, partitions: Array.from({ length: n }, (_, p) => ({ partitionIndex: p, timestamp })) },
          ],
          isolationLevel: 0, // the high watermark, as kafkajs reports it
        });
      const [low, high] = await unwrapped('topic ends', Promise.all([ask(-2n), ask(-1n)]));
      const out = new Map<number, { low: number; high: number }>();
      for (const x of low[0]?.partitions ?? []) out.set(x.partitionIndex, { low: Number(x.offset), high: 0 });
      for (const x of high[0]?.partitions ?? []) {
        const e = out.get(x.partitionIndex);
        if (e) e.high = Number(x.offset);
      }
      return out;
    },
  };
}
