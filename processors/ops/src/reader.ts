import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka } from 'kafkajs';

export interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
}

export interface ReaderOptions {
  kafka: Kafka;
  topics: string[];
  fromBeginning: boolean;
  /** read only these partitions of a topic (others are paused from the first fetch on) */
  only?: Map<string, number>;
  onRecord: (r: RawRecord) => Promise<void> | void;
  /** called after every batch with how far behind the log end this partition's read is (control records counted) */
  onProgress?: (p: { topic: string; partition: number; offsetLag: number }) => void;
  onCrash?: (e: Error) => void;
}

export interface Reader {
  readonly groupId: string;
  stop(): Promise<void>;
}

/**
 * A read-only look at topics: a throwaway consumer group (unique id, never commits, deleted on
 * stop), read_committed, starting at the log start or the log end. kafkajs has no assign(), so a
 * group is unavoidable; with no offsets committed it leaves nothing behind once deleted.
 */
export async function startReader(o: ReaderOptions): Promise<Reader> {
  const groupId = `feedlog-ops-${randomUUID()}`;
  const consumer: Consumer = o.kafka.consumer({ groupId, maxWaitTimeInMs: 250, readUncommitted: false });
  const admin: Admin = o.kafka.admin();
  await admin.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: o.topics, fromBeginning: o.fromBeginning });
  const only = o.only;
  if (only) {
    // paused at join, before the first fetch: only the wanted partition of each topic is read
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const paused = Object.entries(payload.memberAssignment).map(([topic, partitions]) => ({
        topic,
        partitions: partitions.filter((p) => only.get(topic) !== p),
      }));
      consumer.pause(paused.filter((t) => t.partitions.length > 0));
    });
  }
  if (o.onProgress) {
    const progress = o.onProgress;
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) =>
      progress({ topic: payload.topic, partition: payload.partition, offsetLag: Number(payload.offsetLag) }),
    );
  }
  if (o.onCrash) {
    const crash = o.onCrash;
    consumer.on(consumer.events.CRASH, ({ payload }) => crash(payload.error));
  }
  // Nothing is committed, so a rebalance (a slow heartbeat on a busy machine) restarts a
  // partition at the reset position: records already delivered are skipped, never shown twice.
  const delivered = new Map<string, bigint>();
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const tp = `${batch.topic}\0${batch.partition}`;
      for (const m of batch.messages) {
        const offset = BigInt(m.offset);
        const last = delivered.get(tp);
        if (last !== undefined && offset <= last) continue;
        delivered.set(tp, offset);
        await o.onRecord({
          topic: batch.topic,
          partition: batch.partition,
          offset: m.offset,
          key: m.key ?? null,
          value: m.value ?? null,
          timestamp: Number(m.timestamp),
        });
      }
    },
  });
  let stopped = false;
  return {
    groupId,
    async stop() {
      if (stopped) return;
      stopped = true;
      await consumer.disconnect().catch(() => undefined);
      // an empty group with no offsets: delete it now rather than leave it to the coordinator's expiry
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    },
  };
}
