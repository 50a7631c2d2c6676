import { type RecordName, type Serde, serdeFor } from '@feedlog/schemas';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FixtureRecord, pipelineFixture } from '../src/fixtures.ts';
import { type RunningMaterializer, startMaterializer } from '../src/materializer.ts';
import { readStoredOffsets } from '../src/store.ts';
import {
  deleteTopics,
  highWatermarks,
  isolatedTopics,
  migratedSchema,
  type TestDb,
  testKafka,
  uniqueName,
  waitCaughtUp,
  waitFor,
} from './helpers.ts';

/**
 * The stages produce with Kafka transactions (exactly-once), so their topics hold commit markers
 * and, after a fenced or failed transaction, aborted records. The materializer must skip the
 * aborted ones, move its stored offset over the markers (lag reaches 0), mirror its position into
 * the Kafka group, and refresh the views by itself after the burst.
 */
describe('materializer behind transactional producers', () => {
  let kafka: Kafka;
  let prefix: string;
  let db: TestDb;
  let fixture: FixtureRecord[];
  let running: RunningMaterializer | undefined;
  const groupId = uniqueName('mattx');

  beforeAll(async () => {
    kafka = testKafka('materialize-tx');
    prefix = await isolatedTopics(kafka, 'mattx');
    db = await migratedSchema('mattx');
    fixture = pipelineFixture({ items: 80, jobs: 2, prefix });
  });
  async function produceTransactionally() {
    const serdes = new Map<string, Serde<RecordName>>();
    const encode = async (r: FixtureRecord) => {
      if (r.record === null) return r.value;
      let s = serdes.get(r.topic);
      if (!s) {
        s = serdeFor(r.record, r.topic, { prefix }) as Serde<RecordName>;
        serdes.set(r.topic, s);
      }
      // biome-ignore lint/suspicious/noExplicitAny: the union is checked by the fixture's type
      return s.encode(r.value as any);
    };
    const producer = kafka.producer({
      transactionalId: uniqueName('mattx-tx'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    // committed in chunks of 50 records; one extra transaction of junk records is aborted
    for (let i = 0; i < fixture.length; i += 50) {
      const tx = await producer.transaction();
      for (const r of fixture.slice(i, i + 50))
        await tx.send({ topic: r.topic, messages: [{ key: r.key, value: await encode(r) }] });
      await tx.commit();
      if (i === 100) {
        const aborted = await producer.transaction();
        await aborted.send({
          topic: `${prefix}raw-headlines`,
          messages: Array.from({ length: 20 }, (_, j) => ({
            key: `aborted-${j}`,
            value: Buffer.from('never committed'),
          })),
        });
        await aborted.abort();
      }
    }
    await producer.disconnect();
  }

  afterAll(async () => {
    await running?.stop();
    await db?.drop();
    await deleteTopics(kafka, prefix);
  });

  it('reaches the high watermark of every partition, skips aborted records, mirrors offsets to the group, refreshes the views', async () => {
    running = await startMaterializer({
      pool: db.pool,
      kafka,
      prefix,
      groupId,
      sessionTimeout: 6_000,
      refresh: { debounceMs: 200, maxDelayMs: 1_000, intervalMs: 60_000 },
      // one record batch per fetch: each commit marker comes in a fetch of its own, which kafkajs
      // resolves without calling eachBatch (the path that moves the stored offset over markers)
      maxBytesPerPartition: 1,
    });
    // produced while the materializer tails the topics: commit markers often arrive in a fetch of their own
    await produceTransactionally();
    // markers included: stored next_offset == high watermark everywhere (lag 0)
    await waitCaughtUp(kafka, db.pool, prefix, groupId, 60_000);
    const highs = await highWatermarks(kafka, prefix);
    const stored = await readStoredOffsets(db.pool, groupId);
    for (const s of stored)
      expect({ tp: `${s.topic}:${s.partition}`, next: s.next }).toEqual({
        tp: `${s.topic}:${s.partition}`,
        next: highs.get(`${s.topic}:${s.partition}`),
      });

    // nothing of the aborted transaction reached PostgreSQL, not even as a failure
    const failures = await db.pool.query(
      "SELECT count(*)::int AS n FROM stage_failures WHERE item_id LIKE 'aborted-%'",
    );
    expect(failures.rows[0].n).toBe(0);
    const records = await db.pool.query('SELECT sum(records)::int AS n FROM item_stages');
    expect(records.rows[0].n).toBe(fixture.length);

    // the group's committed offsets follow (lag tools see the materializer)
    const admin = kafka.admin();
    await admin.connect();
    try {
      await waitFor('the group offsets to match PostgreSQL', async () => {
        for (const s of stored) {
          const [g] = await admin.fetchOffsets({ groupId, topics: [s.topic] });
          const p = g?.partitions.find((x) => x.partition === s.partition);
          if (!p || BigInt(p.offset) !== s.next) return false;
        }
        return true;
      });
    } finally {
      await admin.disconnect();
    }

    // job_progress refreshed by the materializer itself after the burst
    const done = await waitFor(
      'job_progress to show the jobs indexed',
      async () => {
        const r = await db.pool.query('SELECT job_id, ingested::int, indexed::int FROM job_progress ORDER BY job_id');
        return r.rows.length === 2 && r.rows.every((x) => x.indexed === 40) ? r.rows : undefined;
      },
      15_000,
    );
    expect(done).toEqual([
      { job_id: 'job-0', ingested: 40, indexed: 40 },
      { job_id: 'job-1', ingested: 40, indexed: 40 },
    ]);
    expect(running.refresher?.refreshes).toBeGreaterThan(0);
  });
});
