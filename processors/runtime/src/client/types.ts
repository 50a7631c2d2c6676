/**
 * The client seam: what the stage runtime needs from a Kafka client, and nothing more. The shapes
 * follow kafkajs (the first backend) so its objects pass through unchanged; another backend
 * (`platformatic.ts`) adapts itself to them.
 */

/** A message to produce: bytes in, bytes out. */
export interface ProduceMessage {
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, Buffer | string | undefined>;
  /** epoch ms as a string */
  timestamp?: string;
}

export interface TopicMessages {
  topic: string;
  messages: ProduceMessage[];
}

/** A consumed message (kafkajs' KafkaMessage shape). */
export interface InMessage {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

export interface OffsetsByTopic {
  topic: string;
  partitions: { partition: number; offset: string }[];
}

export interface ClientTransaction {
  sendBatch(b: { topicMessages: TopicMessages[]; acks: number }): Promise<unknown>;
  sendOffsets(o: { consumerGroupId: string; topics: OffsetsByTopic[] }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  isActive(): boolean;
}

export interface ProducerOptions {
  /** exactly-once: the transactional id (fences older producers with the same id) */
  transactionalId?: string;
  idempotent: true;
  maxInFlightRequests: number;
  transactionTimeout?: number;
  allowAutoTopicCreation: false;
}

export interface ClientProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  sendBatch(b: { topicMessages: TopicMessages[]; acks: number }): Promise<unknown>;
  /** transactional producers: begin a transaction (the first one registers the id: InitProducerId) */
  transaction(): Promise<ClientTransaction>;
}

export interface ConsumerOptions {
  groupId: string;
  sessionTimeout: number;
  heartbeatInterval: number;
  maxWaitTimeInMs: number;
  maxBytesPerPartition: number;
  /** merge stages: every partition to the member that started first (the value: its start time) */
  singleMemberSince?: number;
}

export interface FetchedBatch {
  topic: string;
  partition: number;
  messages: InMessage[];
  highWatermark: string;
  lastOffset(): string;
  offsetLag(): string;
}

export interface BatchPayload {
  batch: FetchedBatch;
  /** a seek is pending for this partition: this fetch is from before it */
  isStale(): boolean;
}

export interface ConsumerHandlers {
  /** a (re)balance ended: this member's partitions per topic */
  onGroupJoin(assignment: Record<string, number[]>): void;
  /** a fetch that held only control records (commit markers) or aborted records */
  onEmptyFetch(e: {
    topic: string;
    partition: number;
    firstOffset: string;
    lastOffset: string;
    offsetLag: string;
  }): void;
  /** the consumer failed; `restart`: the client retries on its own */
  onCrash(error: unknown, restart: boolean): void;
  eachBatch(p: BatchPayload): Promise<void>;
}

export interface TopicPartitions {
  topic: string;
  partitions?: number[];
}

export interface ClientConsumer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** subscribe and start fetching (read_committed, offsets committed by the runtime only) */
  run(o: {
    topics: string[];
    fromBeginning: boolean;
    partitionsConsumedConcurrently: number;
    handlers: ConsumerHandlers;
  }): Promise<void>;
  pause(tps: TopicPartitions[]): void;
  resume(tps: TopicPartitions[]): void;
  seek(o: { topic: string; partition: number; offset: string }): void;
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
}

export interface ClientAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** the group's committed offsets of a topic (stable: no pending transactional commit), -1: none */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, number>>;
  topicEnds(topic: string): Promise<Map<number, { low: number; high: number }>>;
}

export type ClientName = 'kafkajs' | 'platformatic';

/** One backend. */
export interface StageClient {
  readonly name: ClientName;
  producer(o: ProducerOptions): ClientProducer;
  consumer(o: ConsumerOptions): ClientConsumer;
  admin(): ClientAdmin;
}
