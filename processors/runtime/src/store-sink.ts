import type { ClientConsumer as Consumer, ClientProducer as Producer, StageClient } from './client/types.ts';
import type { DeadLetter } from './dlq.ts';
import { type Commit, chunkMessages, type Sink, toKafkaMessage } from './eos.ts';
import { TransactionError } from './errors.ts';
import { publish } from './instrumentation.ts';

/** What a store commits for one batch of one input partition. */
export interface StoreBatch<O> {
  topic: string;
  partition: number;
  /** the transform's outputs, in input order */
  values: O[];
  /** the batch's dead letters (already on the DLQ topic when this is called) */
  dead: DeadLetter[];
  /** offset of the next record to read; a batch with no values and no dead letters only moves it */
  nextOffset: string;
  /** input records the batch covered */
  records: number;
}

/**
 * A sink that is not Kafka: outputs and the input offsets in one transaction of its own
 * (PostgreSQL, say), so the store, not the consumer group, says where each partition resumes.
 */
export interface OffsetStore<O> {
  /** where the partition resumes: the stored next offset, -1 to start where the consumer group is */
  committedOffset(topic: string, partition: number): Promise<number>;
  /** one transaction: the values and the next offset; throws when the stored offset moved under it */
  commit(batch: StoreBatch<O>, signal: AbortSignal): Promise<void>;
}

/**
 * Dead letters and `ctx.send` messages go to Kafka first (acks=all, idempotent producer: at least
 * once, like any DLQ written before the commit), then the store's transaction; then the group's
 * offset, best effort, so lag tools see the store's progress (the store stays the truth).
 */
export class StoreSink<O> implements Sink {
  private producer: Producer | undefined;

  constructor(
    private readonly kafka: StageClient,
    private readonly consumer: Consumer,
    private readonly store: OffsetStore<O>,
    private readonly stage: string,
  ) {}

  async init(): Promise<void> {
    const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    this.producer = producer;
  }

  async commit(c: Commit, signal: AbortSignal): Promise<void> {
    const producer = this.producer;
    if (!producer) throw new TransactionError('sink not initialised');
    const [off] = c.offsets;
    if (!off || c.offsets.length !== 1) throw new TransactionError('a store commits one partition per batch');
    const topicMessages = c.topicMessages
      .filter((t) => t.messages.length > 0)
      .map((t) => ({ topic: t.topic, messages: t.messages.map(toKafkaMessage) }));
    for (const chunk of chunkMessages(topicMessages)) await producer.sendBatch({ topicMessages: chunk, acks: -1 });
    if (signal.aborted) throw new TransactionError('aborted by shutdown');
    await this.store.commit(
      {
        topic: off.topic,
        partition: off.partition,
        values: (c.values ?? []) as O[],
        dead: c.dead ?? [],
        nextOffset: off.offset,
        records: c.records ?? 0,
      },
      signal,
    );
    await this.consumer.commitOffsets([off]).catch((e: unknown) => {
      publish('error', {
        stage: this.stage,
        topic: off.topic,
        partition: off.partition,
        where: 'group-offset',
        error: e,
      });
    });
  }

  async close(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    await p?.disconnect().catch(() => {});
  }
}
