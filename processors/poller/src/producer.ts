import { KafkaIngestSink } from '@feedlog/common';
import { type RawHeadline, serdeFor } from '@feedlog/schemas';
import { topicNames } from '@feedlog/topics';
import type { Kafka } from 'kafkajs';
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
 * id, through the same coalescing idempotent producer (acks=all) POST /v1/items uses.
 */
export class KafkaRawSink implements RawSink {
  private readonly sink: KafkaIngestSink;
  private readonly serde;
  readonly topic: string;

  constructor(kafka: Kafka, opts: KafkaRawSinkOptions = {}) {
    this.topic = `${opts.prefix ?? ''}${topicNames.raw}`;
    this.serde = serdeFor('RawHeadline', this.topic, {
      prefix: opts.prefix ?? '',
      ...(opts.registryUrl ? { registryUrl: opts.registryUrl } : {}),
      autoRegister: opts.autoRegister ?? false,
    });
    this.sink = new KafkaIngestSink(kafka, this.topic);
  }

  async send(records: readonly RawHeadline[]): Promise<void> {
    if (!records.length) return;
    const encoded = await Promise.all(
      records.map(async (r) => ({ key: r.item_id, value: await this.serde.encode(r) })),
    );
    await this.sink.send(encoded);
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}
