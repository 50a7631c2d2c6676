import { type RawHeadline, serdeFor } from '@feedlog/schemas';
import { topicNames } from '@feedlog/topics';
import type { Kafka, Producer } from 'kafkajs';
import type { FeedItem } from './parse/index.ts';

/** A feed item as the API writes it to raw-headlines (same fields, same id, same key). */
export function toRawHeadline(item: FeedItem, jobId: string, ingestedAt: number): RawHeadline {
  return {
    item_id: item.item_id,
    job_id: jobId,
    headline: {
      source: item.source,
      guid: item.guid,
      url: item.url,
      title: item.title,
      summary: item.summary,
      published_at: item.published_at,
      ingested_at: ingestedAt,
    },
  };
}

/** Where a poll's items go. */
export interface RawSink {
  send(records: readonly RawHeadline[]): Promise<void>;
  close(): Promise<void>;
}

export interface KafkaRawSinkOptions {
  /** topic-name prefix (tests) */
  prefix?: string;
  registryUrl?: string;
  /** register RawHeadline under the subject if missing (tests; production uses `feedlog schemas register`) */
  autoRegister?: boolean;
}

/**
 * RawHeadline Avro (Confluent wire format, the registry's id) to raw-headlines keyed by item
 * id, through an idempotent producer with acks=all: the path POST /v1/items takes.
 */
export class KafkaRawSink implements RawSink {
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;
  private inFlight = false;
  private queue: { records: readonly RawHeadline[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private readonly serde;
  readonly topic: string;

  constructor(kafka: Kafka, opts: KafkaRawSinkOptions = {}) {
    this.topic = `${opts.prefix ?? ''}${topicNames.raw}`;
    this.serde = serdeFor('RawHeadline', this.topic, {
      prefix: opts.prefix ?? '',
      ...(opts.registryUrl ? { registryUrl: opts.registryUrl } : {}),
      autoRegister: opts.autoRegister ?? false,
    });
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  }

  /**
   * Concurrent calls are coalesced: while one producer.send is in flight the next calls' records
   * queue and go together in the following send (the idempotent producer allows one request in
   * flight; many small concurrent sends would each wait a round trip).
   */
  send(records: readonly RawHeadline[]): Promise<void> {
    if (!records.length) return Promise.resolve();
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
          this.connected ??= this.producer.connect().catch((e: unknown) => {
            this.connected = undefined;
            throw e;
          });
          await this.connected;
          const messages = await Promise.all(
            batch.flatMap((b) => b.records).map(async (r) => ({ key: r.item_id, value: await this.serde.encode(r) })),
          );
          await this.producer.send({ topic: this.topic, acks: -1, messages });
          for (const b of batch) b.resolve();
        } catch (e) {
          for (const b of batch) b.reject(e);
        }
      }
    } finally {
      this.inFlight = false;
    }
  }

  async close(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
  }
}
