import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { ChangelogEntry } from './state.ts';

/** Changelog keys of one generation: `g<N>/<state key>` (generations share the compacted topic). */
export const changelogPrefix = (generation: number): string => `g${generation}/`;

/**
 * Read the changelog topic from the beginning to its end (read_committed) and return this
 * generation's entries in log order, with the generation prefix removed.
 */
export async function readChangelog(
  kafka: Kafka,
  topic: string,
  generation: number,
  timeoutMs = 120_000,
): Promise<ChangelogEntry[]> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `feedlog.cluster.restore.${randomUUID()}`;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const ends = new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
    const pending = new Set([...ends].filter(([, e]) => e.high > e.low).map(([p]) => p));
    const out: ChangelogEntry[] = [];
    if (pending.size === 0) return out;
    const prefix = changelogPrefix(generation);
    const consumer = kafka.consumer({
      groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 200,
    });
    let finish: () => void = () => {};
    const finished = new Promise<void>((r) => {
      finish = r;
    });
    // fires for every fetched batch, including ones that hold only control records (commit markers)
    consumer.on(consumer.events.START_BATCH_PROCESS, ({ payload }) => {
      const end = ends.get(payload.partition);
      if (end && Number(payload.lastOffset) >= end.high - 1) {
        pending.delete(payload.partition);
        if (pending.size === 0) finish();
      }
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const k = m.key?.toString() ?? '';
            if (!k.startsWith(prefix)) continue;
            out.push({ key: k.slice(prefix.length), value: m.value === null ? null : m.value.toString() });
          }
        },
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        finished,
        new Promise<never>((_, rej) => {
          timer = setTimeout(
            () => rej(new Error(`changelog ${topic}: not read to its end in ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
    } finally {
      await consumer.disconnect().catch(() => {});
      await admin.deleteGroups([groupId]).catch(() => {});
    }
    return out;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
