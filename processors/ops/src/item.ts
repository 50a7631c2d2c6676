import { declareFeedlog, dlqName, stageNames, topicNames } from '@feedlog/topics';
import type { Kafka } from 'kafkajs';
import type pg from 'pg';
import type { RecordDecoder } from './decode.ts';
import { partitionsOfKey } from './partition.ts';
import { startReader } from './reader.ts';
import type { SeenRecord } from './render.ts';

export interface ItemJourney {
  itemId: string;
  /** the partition scanned in each topic (the one the item id hashes to) */
  partitions: Record<string, number>;
  /** every stage's record for the item, in stage order then offset */
  records: SeenRecord[];
  /** its dead letters, from the <stage>.dlq topics */
  deadLetters: SeenRecord[];
  /** topics whose scan did not reach the log end in time (an open transaction, a slow broker) */
  incomplete: string[];
  /** the `items` row, null when the materializer has not written it; undefined without a pool */
  row?: Record<string, unknown> | null;
  /** per-stage failures recorded by the materializer (stage_failures) */
  failures?: Record<string, unknown>[];
  /** why the PostgreSQL part is missing when the database has no feedlog tables */
  databaseNote?: string;
}

export interface ItemOptions {
  kafka: Kafka;
  decoder: RecordDecoder;
  itemId: string;
  prefix?: string;
  pool?: pg.Pool;
  timeoutMs?: number;
  /** records scanned so far of the total between log start and end in the partitions read */
  onProgress?: (scanned: number, total: number) => void;
}

/** Stage output topics in pipeline order, then every dead-letter topic. */
function journeyTopics(prefix: string): { stages: string[]; dlqs: string[] } {
  const declared = new Set(declareFeedlog({ prefix }).topics.map((t) => t.name));
  const p = (n: string) => `${prefix}${n}`;
  const stages = [topicNames.raw, topicNames.classified, topicNames.clustered, topicNames.embedded, topicNames.indexed]
    .map(p)
    .filter((t) => declared.has(t));
  const dlqs = stageNames.map((s) => p(dlqName(s))).filter((t) => declared.has(t));
  return { stages, dlqs };
}

/**
 * One item's journey: reads, in every stage topic and dead-letter topic, only the partition its id
 * hashes to (the producers' partitioner), from the log start to the log end, keeping its records;
 * then its PostgreSQL row and recorded failures.
 */
export async function itemJourney(o: ItemOptions): Promise<ItemJourney> {
  const { stages, dlqs } = journeyTopics(o.prefix ?? '');
  const admin = o.kafka.admin();
  await admin.connect();
  let partitions: Map<string, number>;
  const pending = new Set<string>();
  const span = new Map<string, { low: number; high: number; lag: number }>();
  const at = (t: string, p: number) => `${t}[${p}]`;
  try {
    const existing = new Set(await admin.listTopics());
    const topics = [...stages, ...dlqs].filter((t) => existing.has(t));
    partitions = await partitionsOfKey(admin, topics, o.itemId);
    for (const [topic, partition] of partitions) {
      const offsets = await admin.fetchTopicOffsets(topic);
      const p = offsets.find((x) => x.partition === partition);
      if (p && p.high !== p.low) {
        pending.add(at(topic, partition));
        span.set(at(topic, partition), {
          low: Number(p.low),
          high: Number(p.high),
          lag: Number(p.high) - Number(p.low),
        });
      }
    }
  } finally {
    await admin.disconnect();
  }
  const found: SeenRecord[] = [];
  const raws: Promise<void>[] = [];
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  if (pending.size === 0) done();
  const reader = await startReader({
    kafka: o.kafka,
    topics: [...partitions.keys()],
    fromBeginning: true,
    only: partitions,
    onRecord: (r) => {
      if (r.key?.toString('utf8') !== o.itemId) return;
      raws.push(
        o.decoder.decode(r.value).then((decoded) => {
          found.push({
            topic: r.topic,
            partition: r.partition,
            offset: r.offset,
            key: o.itemId,
            timestamp: r.timestamp,
            decoded,
          });
        }),
      );
    },
    onProgress: ({ topic, partition, offsetLag }) => {
      const s = span.get(at(topic, partition));
      if (s) s.lag = Math.max(0, Math.min(s.lag, offsetLag + 1));
      if (o.onProgress) {
        let total = 0;
        let left = 0;
        for (const x of span.values()) {
          total += x.high - x.low;
          left += x.lag;
        }
        o.onProgress(total - left, total);
      }
      if (partitions.get(topic) === partition && offsetLag <= 0) pending.delete(at(topic, partition));
      if (pending.size === 0) done();
    },
  });
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, o.timeoutMs ?? 60_000).unref());
  try {
    await Promise.race([finished, timeout]);
  } finally {
    await reader.stop();
  }
  await Promise.all(raws);
  const order = (t: string) => stages.indexOf(t);
  const byOffset = (a: SeenRecord, b: SeenRecord) =>
    order(a.topic) - order(b.topic) || Number(a.offset) - Number(b.offset);
  const journey: ItemJourney = {
    itemId: o.itemId,
    partitions: Object.fromEntries(partitions),
    records: found.filter((r) => stages.includes(r.topic)).sort(byOffset),
    deadLetters: found.filter((r) => dlqs.includes(r.topic)).sort((a, b) => a.timestamp - b.timestamp),
    incomplete: [...pending],
  };
  if (o.pool) {
    // a database feedlog never migrated (or a wrong DATABASE_URL) is an answer, not a crash: the
    // journey through Kafka above stands on its own
    const tables = await o.pool.query<{ items: string | null }>("SELECT to_regclass('items')::text AS items");
    if (!tables.rows[0]?.items) {
      journey.databaseNote = 'this database has no feedlog tables (run `feedlog migrate`, or check DATABASE_URL)';
      return journey;
    }
    const row = await o.pool.query('SELECT * FROM items WHERE item_id = $1', [o.itemId]);
    journey.row = (row.rows[0] as Record<string, unknown> | undefined) ?? null;
    const failures = await o.pool.query(
      `SELECT stage, source_topic, source_partition, source_offset, generation, error ->> 'class' AS error_class,
              error ->> 'message' AS error_message, failed_at
         FROM stage_failures WHERE item_id = $1 ORDER BY failed_at`,
      [o.itemId],
    );
    journey.failures = failures.rows as Record<string, unknown>[];
  }
  return journey;
}
