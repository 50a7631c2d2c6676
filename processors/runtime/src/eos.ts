import type {
  ClientConsumer as Consumer,
  ProduceMessage as Message,
  ClientProducer as Producer,
  StageClient,
} from './client/types.ts';
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

/**
 * One transaction's messages cut into produce requests of at most `maxBytes` (estimated: keys,
 * values and headers) and `maxMessages`. Why: kafkajs writes all of a request's messages for one
 * partition as one record batch, and a record batch over the broker's message.max.bytes (1 MiB by
 * default) is refused with MESSAGE_TOO_LARGE every time it is retried (a stage keyed like its input
 * sends a whole batch to one partition: 3,800 records of 200 bytes plus a traceparent did it). And
 * kafkajs groups a request's messages by partition in time quadratic in their number.
 */
export function chunkMessages(
  topicMessages: { topic: string; messages: Message[] }[],
  maxBytes = 512 * 1024,
  maxMessages = 1_000,
): { topic: string; messages: Message[] }[][] {
  const chunks: { topic: string; messages: Message[] }[][] = [];
  let chunk: { topic: string; messages: Message[] }[] = [];
  let bytes = 0;
  let count = 0;
  for (const { topic, messages } of topicMessages) {
    let current: Message[] | undefined;
    for (const m of messages) {
      const size = sizeOfMessage(m);
      if (count > 0 && (bytes + size > maxBytes || count >= maxMessages)) {
        chunks.push(chunk);
        chunk = [];
        bytes = 0;
        count = 0;
        current = undefined;
      }
      if (!current) {
        current = [];
        chunk.push({ topic, messages: current });
      }
      current.push(m);
      bytes += size;
      count++;
    }
  }
  if (count > 0) chunks.push(chunk);
  return chunks;
}

const byteLength = (x: Buffer | string | null | undefined) =>
  x == null ? 0 : typeof x === 'string' ? Buffer.byteLength(x) : x.length;

function sizeOfMessage(m: Message): number {
  let size = 24 + byteLength(m.key as Buffer | string | null) + byteLength(m.value as Buffer | string | null);
  for (const [k, v] of Object.entries(m.headers ?? {}))
    size += 2 + k.length + (Array.isArray(v) ? v.reduce((s, x) => s + byteLength(x), 0) : byteLength(v));
  return size;
}

function byTopic(offsets: Commit['offsets']) {
  const by = new Map<string, { partition: number; offset: string }[]>();
  for (const o of offsets) by.set(o.topic, [...(by.get(o.topic) ?? []), { partition: o.partition, offset: o.offset }]);
  return [...by].map(([topic, partitions]) => ({ topic, partitions }));
}

export class TransactionalSink implements Sink {
  private producer: Producer | undefined;

  constructor(
    private readonly kafka: StageClient,
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
      for (const chunk of chunkMessages(topicMessages)) await tx.sendBatch({ topicMessages: chunk, acks: -1 });
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
    private readonly kafka: StageClient,
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
      for (const chunk of chunkMessages(topicMessages)) await producer.sendBatch({ topicMessages: chunk, acks: -1 });
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
