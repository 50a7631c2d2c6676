import { randomBytes } from 'node:crypto';
import { createKafka, loadConfig } from '@feedlog/common';
import { bytesToVector, type SerdeOptions, serdeFor } from '@feedlog/schemas';
import { topicNames } from '@feedlog/topics';
import type { Kafka } from 'kafkajs';
import { OP_HEADER, payloadOf, RETRACT } from './stage.ts';
import type { IndexPoint, Metric, VectorIndex } from './types.ts';

export interface RebuildOptions {
  index: VectorIndex;
  /** the generation to (re)build */
  generation: number;
  metric?: Metric;
  /** only records whose embedding.run.generation is this (default: every record) */
  embedGeneration?: number;
  prefix?: string;
  topic?: string;
  kafka?: Kafka;
  serde?: SerdeOptions;
  /**
   * drop the generation first (default false: apply the topic on top of what it holds, which is
   * safe because upserts and deletes are idempotent and applied in log order)
   */
  drop?: boolean;
  /** store batch size (default 500) */
  batchSize?: number;
  log?: (line: string) => void;
}

export interface RebuildResult {
  records: number;
  upserted: number;
  deleted: number;
  skipped: number;
  count: number;
  seconds: number;
}

/**
 * Rebuild a generation of the vector index from the `embedded` topic: read every partition from
 * its earliest offset to the end offset it had when the rebuild started (read_committed, a
 * throwaway consumer group that is deleted afterwards), apply upserts and retractions in log
 * order, and return the counts. Used when an embedded index directory is lost or corrupt while
 * the index stage's consumer group has committed offsets past what the disk holds; a replay to a
 * new generation (`STAGE_GENERATION=N+1`) instead runs the stage itself from the beginning.
 * The `embedded` topic keeps 14 days: a rebuild restores what it still holds (a longer history
 * comes from a replay of the embed stage from `raw-headlines`).
 */
export async function rebuildFromTopic(opts: RebuildOptions): Promise<RebuildResult> {
  const t0 = Date.now();
  const prefix = opts.prefix ?? '';
  const topic = opts.topic ?? `${prefix}${topicNames.embedded}`;
  const kafka = opts.kafka ?? createKafka(loadConfig(), { clientId: 'feedlog-index-rebuild' });
  const serde = serdeFor('EmbeddedHeadline', topic, { prefix, ...opts.serde });
  const log = opts.log ?? (() => {});
  const metric = opts.metric ?? 'cosine';
  const batchSize = opts.batchSize ?? 500;
  const gen = opts.generation;

  if (opts.drop) {
    // refused (IndexUsageError) while an alias serves the generation: rebuild into N+1 and flip instead
    await opts.index.dropGeneration(gen).catch((e: unknown) => {
      if (/served by alias/.test(String((e as Error)?.message))) throw e;
    });
  }

  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  const remaining = new Map<number, bigint>(); // partition → last offset to read
  for (const p of ends) if (BigInt(p.high) > BigInt(p.low)) remaining.set(p.partition, BigInt(p.high) - 1n);
  const groupId = `feedlog.index-rebuild.g${gen}.${randomBytes(4).toString('hex')}`;
  const result: RebuildResult = { records: 0, upserted: 0, deleted: 0, skipped: 0, count: 0, seconds: 0 };
  let ensured = false;

  if (remaining.size > 0) {
    const consumer = kafka.consumer({ groupId, readUncommitted: false, allowAutoTopicCreation: false });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let finish!: () => void;
    let fail!: (e: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      finish = res;
      fail = rej;
    });
    // A partition is done when the consumer passed its end offset. The last offsets of a topic
    // written transactionally (the embed stage) are commit markers that never reach eachBatch, so
    // progress also comes from kafkajs' end-of-batch event, which reports control-only batches.
    const progress = (partition: number, lastOffset: string) => {
      const end = remaining.get(partition);
      if (end !== undefined && BigInt(lastOffset) >= end) remaining.delete(partition);
      if (remaining.size === 0) finish();
    };
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      const p = e.payload as { topic: string; partition: number; lastOffset: string };
      if (p.topic === topic) progress(p.partition, p.lastOffset);
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        try {
          const last = remaining.get(batch.partition);
          if (last === undefined) return;
          let points: IndexPoint[] = [];
          const flush = async () => {
            if (points.length === 0) return;
            await opts.index.upsert(gen, points);
            result.upserted += points.length;
            points = [];
          };
          for (const m of batch.messages) {
            if (BigInt(m.offset) > last) break;
            result.records++;
            if (m.value) {
              const v = await serde.decode(m.value);
              const retract = m.headers?.[OP_HEADER]?.toString() === RETRACT;
              if (opts.embedGeneration !== undefined && v.embedding.run.generation !== opts.embedGeneration) {
                result.skipped++;
              } else if (retract) {
                await flush();
                await opts.index.delete(gen, [v.item_id]);
                result.deleted++;
              } else {
                if (!ensured) {
                  await opts.index.ensureGeneration(gen, v.embedding.dimensions, metric);
                  ensured = true;
                }
                points.push({
                  itemId: v.item_id,
                  vector: bytesToVector(v.embedding.vector, v.embedding.dimensions),
                  payload: payloadOf(v),
                });
                if (points.length >= batchSize) await flush();
              }
            } else result.skipped++;
            resolveOffset(m.offset);
          }
          await flush();
          await heartbeat();
          if (result.records % 10_000 < batch.messages.length) log(`rebuild g${gen}: ${result.records} records`);
          progress(batch.partition, batch.lastOffset());
        } catch (e) {
          fail(e);
        }
      },
    });
    try {
      await done;
    } finally {
      await consumer.disconnect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
  }
  await admin.disconnect();
  result.count = ensured ? await opts.index.count(gen) : 0;
  result.seconds = (Date.now() - t0) / 1000;
  log(
    `rebuild g${gen}: ${result.records} records, ${result.upserted} upserts, ${result.deleted} deletes, ${result.count} points`,
  );
  return result;
}
