import { type EncodedRecord, type IngestSink, KafkaIngestSink } from '@feedlog/common';
import type { RawHeadline } from '@feedlog/schemas';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

// the sink lives in @feedlog/common (the poller and `produce --direct` send through it too)
export { type EncodedRecord, type IngestSink, KafkaIngestSink };

export interface RawEncoder {
  encode(record: RawHeadline): Promise<Buffer>;
  /** throws when the encoder cannot work (the registry does not answer or the schema is unregistered) */
  check(): Promise<void>;
}

/** Records kept in memory (unit tests). */
export class MemorySink implements IngestSink {
  readonly records: EncodedRecord[] = [];
  failNext: Error | undefined;
  constructor(readonly topic = 'raw-headlines') {}
  async send(records: readonly EncodedRecord[]): Promise<void> {
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    this.records.push(...records);
  }
  async check(): Promise<void> {}
  async close(): Promise<void> {}
}

declare module 'fastify' {
  interface FastifyInstance {
    ingest: { sink: IngestSink; encoder: RawEncoder };
  }
}

export const kafkaPlugin = fp<{ sink: IngestSink; encoder: RawEncoder; closeSink?: boolean }>(
  async (app: FastifyInstance, opts) => {
    app.decorate('ingest', { sink: opts.sink, encoder: opts.encoder });
    if (opts.closeSink !== false) app.addHook('onClose', async () => opts.sink.close());
  },
  { name: 'feedlog-kafka' },
);
