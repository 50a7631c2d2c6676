// The dead letter is the DeadLetter Avro record itself (schemas/DeadLetter.avsc), via its
// generated type, so the runtime and the Avro serde cannot drift apart.
import { errorCodeOf } from '@feedlog/common';
import type { DeadLetter } from '@feedlog/schemas';
import type { Codec } from './codec.ts';
import type { Stage } from './define-stage.ts';
import { errorClass, errorMessage, isRetriable } from './errors.ts';

export type { DeadLetter };

/** The raw record as consumed: what a dead letter preserves byte for byte. */
export interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | undefined>;
}

export interface OutMessage {
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, Buffer | string>;
  /** epoch ms as a string (kafkajs' form); absent: producer time */
  timestamp?: string;
}

/** A message for any topic of the batch's transaction (outputs, dead letters, extra messages). */
export interface TopicMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string>;
  timestamp?: string;
}

export function deadLetter(
  stage: Pick<Stage<unknown, unknown>, 'name' | 'groupId' | 'generation'>,
  rec: RawRecord,
  error: unknown,
  attempts: number,
  ids: { itemId?: string | null; jobId?: string | null } = {},
): DeadLetter {
  return {
    original_key: rec.key,
    original_value: rec.value,
    headers: Object.entries(rec.headers).map(([key, value]) => ({ key, value: value ?? null })),
    source_topic: rec.topic,
    source_partition: rec.partition,
    source_offset: Number(rec.offset),
    source_timestamp: rec.timestamp ? Number(rec.timestamp) : null,
    stage: stage.name,
    consumer_group: stage.groupId,
    generation: stage.generation,
    error_class: errorClass(error),
    error_message: errorMessage(error).slice(0, 4_000),
    error_stack: error instanceof Error && error.stack ? error.stack.slice(0, 8_000) : null,
    retriable: isRetriable(error),
    attempts,
    item_id: ids.itemId ?? null,
    job_id: ids.jobId ?? null,
    failed_at: Date.now(),
  };
}

/** Default DLQ codec: JSON with bytes as base64 (readable with any consumer). */
export const deadLetterJsonCodec: Codec<DeadLetter> = {
  async decode(buf) {
    const o = JSON.parse(buf.toString('utf8'));
    const b = (s: string | null) => (s == null ? null : Buffer.from(s, 'base64'));
    return {
      ...o,
      original_key: b(o.original_key),
      original_value: b(o.original_value),
      headers: (o.headers as { key: string; value: string | null }[]).map((h) => ({ key: h.key, value: b(h.value) })),
    };
  },
  async encode(d) {
    const b = (x: Buffer | null) => (x == null ? null : x.toString('base64'));
    return Buffer.from(
      JSON.stringify({
        ...d,
        original_key: b(d.original_key),
        original_value: b(d.original_value),
        headers: d.headers.map((h) => ({ key: h.key, value: b(h.value) })),
      }),
    );
  },
};

/**
 * The Kafka message for a dead letter: keyed like the original, the original headers kept
 * (traceparent included) plus `feedlog-error-*` headers so a DLQ is readable without decoding;
 * `feedlog-error-code` is the FEEDLOG_* code of the error when it has one.
 */
export async function deadLetterMessage(
  d: DeadLetter,
  rec: RawRecord,
  codec: Codec<DeadLetter>,
  subject: string,
  error?: unknown,
): Promise<OutMessage> {
  const headers = deadLetterHeaders(d, rec.headers);
  const code = errorCodeOf(error);
  if (code) headers['feedlog-error-code'] = code;
  return { key: rec.key, value: await codec.encode(d, subject), headers };
}

/** The headers of a dead-letter message: the original's plus `feedlog-error-*` (the materializer's too). */
export function deadLetterHeaders(
  d: Pick<
    DeadLetter,
    'error_class' | 'error_message' | 'attempts' | 'source_topic' | 'source_partition' | 'source_offset' | 'stage'
  >,
  original: Record<string, Buffer | string | undefined>,
): Record<string, Buffer | string> {
  const headers: Record<string, Buffer | string> = {};
  for (const [k, v] of Object.entries(original)) if (v !== undefined) headers[k] = v;
  headers['feedlog-error-class'] = d.error_class;
  headers['feedlog-error-message'] = d.error_message.slice(0, 500);
  headers['feedlog-attempts'] = String(d.attempts);
  headers['feedlog-source'] = `${d.source_topic}/${d.source_partition}/${d.source_offset}`;
  headers['feedlog-stage'] = d.stage;
  return headers;
}
