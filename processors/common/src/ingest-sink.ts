import type { Admin, Kafka, Producer } from 'kafkajs';

// The one producer path into raw-headlines: the API's POST /v1/items, the poller and
// `feedlog produce --direct` all send encoded records through it.

export interface EncodedRecord {
  key: string;
  value: Buffer;
  headers?: Record<string, string>;
}

/** Where accepted items go: raw-headlines through the idempotent producer (or memory in unit tests). */
export interface IngestSink {
  readonly topic: string;
  /** durable (acks=all) when the promise resolves */
  send(records: readonly EncodedRecord[]): Promise<void>;
  /** throws when the sink cannot take records (readiness) */
  check(): Promise<void>;
  close(): Promise<void>;
}

/**
 * kafkajs idempotent producer (acks=all, one request in flight, retries de-duplicated by the
 * broker). Concurrent requests are coalesced: while one send is in flight the next requests'
 * records queue and go together in the following send, so throughput grows with concurrency
 * without reordering the idempotent producer's sequence numbers.
 */
export class KafkaIngestSink implements IngestSink {
  private readonly producer: Producer;
  private admin: Admin | undefined;
  private connected: Promise<void> | undefined;
  private inFlight = false;
  private queue: { records: readonly EncodedRecord[]; resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
  ) {
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  }

  private connect(): Promise<void> {
    this.connected ??= this.producer.connect().catch((e: unknown) => {
      this.connected = undefined;
      throw e;
    });
    return this.connected;
  }

  send(records: readonly EncodedRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records, resolve, reject });
      if (!this.inFlight) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.inFlight = true;
    try {
      while (this.queue.length) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.connect();
          await this.producer.send({
            topic: this.topic,
            acks: -1,
            messages: batch.flatMap((b) =>
              b.records.map((r) => ({ key: r.key, value: r.value, ...(r.headers ? { headers: r.headers } : {}) })),
            ),
          });
          for (const b of batch) b.resolve();
        } catch (e) {
          for (const b of batch) b.reject(e);
        }
      }
    } finally {
      this.inFlight = false;
    }
  }

  async check(): Promise<void> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    await this.admin.fetchTopicMetadata({ topics: [this.topic] });
  }

  async close(): Promise<void> {
    await this.admin?.disconnect().catch(() => undefined);
    if (this.connected) await this.producer.disconnect().catch(() => undefined);
  }
}
