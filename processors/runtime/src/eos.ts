import type { Consumer, Kafka, Message, Producer } from 'kafkajs';
import type { DeadLetter, TopicMessage } from './dlq.ts';
import { TransactionError } from './errors.ts';

/** What a worker commits: its outputs (incl. dead letters) and the next input offset of each partition in the batch. */
export interface Commit {
  topicMessages: { topic: string; messages: TopicMessage[] }[];
  /** offset of the next record to read (last processed + 1), per input partition */
  offsets: { topic: string; partition: number; offset: string }[];
  /** store stages: the decoded outputs and the dead letters, for the store's own transaction */
  values?: unknown[];
  dead?: DeadLetter[];
  records?: number;
}

/**
 * Where a partition's results go. Exactly-once: one transactional producer per input partition
 * (outputs + offsets in one transaction). At-least-once: a shared idempotent producer, then the
 * consumer commits the offsets.
 */
export interface Sink {
  /** exactly-once: register the transactional id, which fences older producers with the same id
   * and completes (aborts) their open transaction before this returns */
  init(): Promise<void>;
  commit(c: Commit, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/**
 * The transactional id of one input partition's producer. kafkajs predates KIP-447 (it cannot
 * send the consumer group's generation with the offsets), so fencing works the pre-2.5 Kafka
 * Streams way: the id names the input partition, and whoever is assigned that partition next
 * bumps the producer epoch for it, fencing the previous owner (a zombie after a rebalance, or a
 * killed process whose transaction is still open).
 */
export function transactionalIdFor(stage: string, generation: number, topic: string, partition: number): string {
  return `feedlog.${stage}.g${generation}.${topic}.${partition}`;
}

export const toKafkaMessage = (m: TopicMessage): Message => ({
  key: m.key,
  value: m.value,
  headers: m.headers,
  ...(m.timestamp === undefined ? {} : { timestamp: m.timestamp }),
});

function byTopic(offsets: Commit['offsets']) {
  const by = new Map<string, { partition: number; offset: string }[]>();
  for (const o of offsets) by.set(o.topic, [...(by.get(o.topic) ?? []), { partition: o.partition, offset: o.offset }]);
  return [...by].map(([topic, partitions]) => ({ topic, partitions }));
}

export class TransactionalSink implements Sink {
  private producer: Producer | undefined;

  constructor(
    private readonly kafka: Kafka,
    readonly transactionalId: string,
    private readonly groupId: string,
    private readonly transactionTimeoutMs: number,
  ) {}

  async init(): Promise<void> {
    const producer = this.kafka.producer({
      transactionalId: this.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.transactionTimeoutMs,
      allowAutoTopicCreation: false,
    });
    this.producer = producer;
    await producer.connect();
    // kafkajs sends InitProducerId on the first transaction: do it now (fencing on assignment,
    // not on the first batch) with an empty transaction, which ends without a broker round trip.
    const tx = await producer.transaction();
    await tx.abort();
  }

  async commit(c: Commit, signal: AbortSignal): Promise<void> {
    const producer = this.producer;
    if (!producer) throw new TransactionError('sink not initialised');
    const tx = await producer.transaction();
    try {
      const topicMessages = c.topicMessages
        .filter((t) => t.messages.length > 0)
        .map((t) => ({ topic: t.topic, messages: t.messages.map(toKafkaMessage) }));
      if (topicMessages.length > 0) await tx.sendBatch({ topicMessages, acks: -1 });
      if (signal.aborted) throw new TransactionError('aborted by shutdown');
      await tx.sendOffsets({ consumerGroupId: this.groupId, topics: byTopic(c.offsets) });
      if (signal.aborted) throw new TransactionError('aborted by shutdown');
      await tx.commit();
    } catch (e) {
      if (tx.isActive()) await tx.abort().catch(() => {});
      throw e instanceof TransactionError
        ? e
        : new TransactionError(`transaction failed: ${(e as Error).message}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    await p?.disconnect().catch(() => {});
  }
}

/** At-least-once: outputs first (acks=all, idempotent producer of its own), then the offsets; a crash in between re-delivers. */
export class AtLeastOnceSink implements Sink {
  private producer: Producer | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly consumer: Consumer,
  ) {}

  async init(): Promise<void> {
    const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    this.producer = producer;
    await producer.connect();
  }

  async commit(c: Commit, signal: AbortSignal): Promise<void> {
    const producer = this.producer;
    if (!producer) throw new TransactionError('sink not initialised');
    const topicMessages = c.topicMessages
      .filter((t) => t.messages.length > 0)
      .map((t) => ({ topic: t.topic, messages: t.messages.map(toKafkaMessage) }));
    try {
      if (topicMessages.length > 0) await producer.sendBatch({ topicMessages, acks: -1 });
      if (signal.aborted) throw new TransactionError('aborted by shutdown');
      await this.consumer.commitOffsets(c.offsets);
    } catch (e) {
      throw e instanceof TransactionError
        ? e
        : new TransactionError(`commit failed: ${(e as Error).message}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    await p?.disconnect().catch(() => {});
  }
}
