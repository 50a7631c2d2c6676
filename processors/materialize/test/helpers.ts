import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { migrate, refreshViews } from '@feedlog/migrations';
import { type RecordName, type Serde, serdeFor } from '@feedlog/schemas';
import { type TestSchema, testKafka, testSchema, uniqueName, waitFor } from '@feedlog/test';
import type { Kafka } from 'kafkajs';
import type pg from 'pg';
import type { FixtureRecord } from '../src/fixtures.ts';
import { materializedTopics } from '../src/materializer.ts';
import { readStoredOffsets } from '../src/store.ts';

export const mainEntry = resolve(import.meta.dirname, '../src/main.ts');

// topic isolation lives once in @feedlog/test
export { deletePrefixedTopics as deleteTopics, isolatedTopics } from '@feedlog/test';

/** Encode (registering the schemas under the prefixed subjects) and produce, in log order. */
export async function produceFixture(kafka: Kafka, prefix: string, records: FixtureRecord[]): Promise<void> {
  const serdes = new Map<string, Serde<RecordName>>();
  const serde = (topic: string, record: RecordName) => {
    let s = serdes.get(topic);
    if (!s) {
      s = serdeFor(record, topic, { prefix, autoRegister: true }) as Serde<RecordName>;
      serdes.set(topic, s);
    }
    return s;
  };
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const byTopic = new Map<string, { key: string; value: Buffer }[]>();
    for (const r of records) {
      // biome-ignore lint/suspicious/noExplicitAny: the union is checked by the fixture's type
      const value = r.record === null ? r.value : await serde(r.topic, r.record).encode(r.value as any);
      const list = byTopic.get(r.topic) ?? [];
      list.push({ key: r.key, value });
      byTopic.set(r.topic, list);
    }
    for (const [topic, messages] of byTopic) {
      for (let i = 0; i < messages.length; i += 1_000) {
        await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 1_000) });
      }
    }
  } finally {
    await producer.disconnect();
  }
}

export type TestDb = TestSchema;

/** A PostgreSQL schema of its own, migrated; `url` points a child process at it. */
export async function migratedSchema(name: string): Promise<TestDb> {
  const db = await testSchema(name);
  await migrate(db.pool);
  return db;
}

/** High watermark of every partition the materializer reads. */
export async function highWatermarks(kafka: Kafka, prefix: string): Promise<Map<string, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  const out = new Map<string, bigint>();
  try {
    for (const { topic } of materializedTopics(prefix)) {
      for (const o of await admin.fetchTopicOffsets(topic)) out.set(`${topic}:${o.partition}`, BigInt(o.high));
    }
  } finally {
    await admin.disconnect();
  }
  return out;
}

/** Until consumer_offsets has reached the high watermark of every non-empty partition. */
export async function waitCaughtUp(
  kafka: Kafka,
  pool: pg.Pool,
  prefix: string,
  groupId: string,
  timeoutMs = 120_000,
): Promise<void> {
  const highs = await highWatermarks(kafka, prefix);
  await waitFor(
    'the materializer to catch up',
    async () => {
      const stored = new Map(
        (await readStoredOffsets(pool, groupId)).map((s) => [`${s.topic}:${s.partition}`, s.next]),
      );
      for (const [k, high] of highs) if (high > 0n && (stored.get(k) ?? -1n) < high) return false;
      return true;
    },
    timeoutMs,
    250,
  );
}

/** Everything the materializer wrote, without wall-clock columns (and its own group name), in a canonical order. */
export async function canonicalDump(pool: pg.Pool, groupId: string): Promise<Record<string, unknown[]>> {
  await refreshViews(pool);
  const q = async (sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows;
  return {
    items: await q(
      `SELECT to_jsonb(i) - 'first_materialized_at' - 'updated_at' - 'search_tsv' AS row FROM items i ORDER BY item_id`,
    ),
    item_stages: await q('SELECT * FROM item_stages ORDER BY job_id, stage, item_id'),
    jobs: await q('SELECT id, kind, status, expected_count, auto_created FROM jobs ORDER BY id'),
    stage_failures: await q(
      `SELECT stage, item_id, job_id, source_topic, source_partition, source_offset,
              CASE WHEN stage = 'materialize' THEN NULL ELSE consumer_group END AS consumer_group, generation,
              error - 'stack' AS error, CASE WHEN stage = 'materialize' THEN NULL ELSE failed_at END AS failed_at
       FROM stage_failures ORDER BY stage, source_topic, source_partition, source_offset`,
    ),
    offsets: await q(
      'SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1 ORDER BY topic, partition',
      [groupId],
    ),
    job_progress: await q(
      `SELECT to_jsonb(j) - 'refreshed_at' - 'created_at' - 'stuck' - 'stuck_items' AS row FROM job_progress j ORDER BY job_id`,
    ),
    story_summary: await q('SELECT * FROM story_summary ORDER BY story_id'),
  };
}

export interface ChildMaterializer {
  child: ChildProcess;
  events: Record<string, unknown>[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnMaterializer(env: Record<string, string>): ChildMaterializer {
  const child = spawn(process.execPath, ['--import', 'tsx', mainEntry], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
    try {
      events.push(JSON.parse(l));
    } catch {
      /* not an event */
    }
  });
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (l) => {
    stderr.push(l);
    if (stderr.length > 200) stderr.shift();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on('exit', (code, signal) => res({ code, signal })),
  );
  return { child, events, stderr, exited };
}

export { testKafka, uniqueName, waitFor };
