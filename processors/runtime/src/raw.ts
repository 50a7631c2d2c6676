import type { InMessage as KafkaMessage } from './client/types.ts';
import type { Stage } from './define-stage.ts';
import type { RawRecord, TopicMessage } from './dlq.ts';
import { publish } from './instrumentation.ts';
import type { BatchResult } from './process-batch.ts';

/** A consumed kafkajs message as the runtime keeps it: one value per header. */
export function toRaw(topic: string, partition: number, m: KafkaMessage): RawRecord {
  const headers: Record<string, Buffer | undefined> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    const one = Array.isArray(v) ? v[v.length - 1] : v;
    headers[k] = one === undefined ? undefined : Buffer.isBuffer(one) ? one : Buffer.from(String(one));
  }
  return { topic, partition, offset: m.offset, timestamp: m.timestamp, key: m.key, value: m.value, headers };
}

/** What a record weighs in a buffer bound (payload plus a fixed overhead). */
export const sizeOf = (r: RawRecord): number => (r.key?.length ?? 0) + (r.value?.length ?? 0) + 64;

export function groupByTopic(extra: { topic: string; message: TopicMessage }[]) {
  const by = new Map<string, TopicMessage[]>();
  for (const x of extra) {
    const list = by.get(x.topic);
    if (list) list.push(x.message);
    else by.set(x.topic, [x.message]);
  }
  return [...by].map(([topic, messages]) => ({ topic, messages }));
}

/** After a commit: one `dlq` event per dead letter and the `batch` event. */
export function publishCommitted(
  stage: Stage<unknown, unknown>,
  c: { batch: RawRecord[]; result: BatchResult; partition: number; batchMs: number; commitMs: number; lag: number },
): void {
  for (const d of c.result.dead) {
    publish('dlq', {
      stage: stage.name,
      topic: d.record.topic,
      partition: d.record.partition,
      offset: d.record.offset,
      errorClass: d.letter.error_class,
      message: d.letter.error_message,
      attempts: d.letter.attempts,
    });
  }
  const first = c.batch[0];
  const last = c.batch[c.batch.length - 1];
  if (!first || !last) return;
  publish('batch', {
    stage: stage.name,
    generation: stage.generation,
    topic: first.topic,
    partition: c.partition,
    firstOffset: first.offset,
    lastOffset: last.offset,
    recordsIn: c.batch.length,
    recordsOut: c.result.outputs.length + c.result.values.length,
    dlq: c.result.dead.length,
    bytesIn: c.batch.reduce((s, r) => s + sizeOf(r), 0),
    batchMs: c.batchMs,
    transformMs: c.result.transformMs,
    commitMs: c.commitMs,
    mode: stage.config.mode,
    lag: c.lag,
  });
}
