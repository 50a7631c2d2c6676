import { setTimeout as sleep } from 'node:timers/promises';
import { type RunningMaterializer, startMaterializer } from '@feedlog/materialize';
import { pipelineFixture } from '@feedlog/materialize/fixtures';
import type { Admin } from '@platformatic/kafka';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteTopics,
  isolatedTopics,
  migratedSchema,
  produceFixture,
  type TestDb,
  testKafka,
  uniqueName,
  waitCaughtUp,
} from '../../materialize/test/helpers.ts';
import { applyReset, createAdmin, GroupActiveError, OffsetsMovedError, planReset } from '../src/index.ts';
import { storedOffsets } from '../src/postgres.ts';
import { committedLines, lines, toolReset } from './helpers.ts';

const ITEMS = 60;
const FIRST = 40; // items produced before the reset time; the other 20 after it

/**
 * The materializer keeps its offsets in PostgreSQL (`consumer_offsets`), so a reset of its Kafka
 * group alone would be ignored. Real materializer, prefixed topics, its own schema: it runs over
 * 60 items, is reset to a time between the first 40 and the last 20, runs again — and exactly the
 * records after that time are applied again, with no row duplicated or changed.
 */
describe('reset-offsets on the materializer (offsets in PostgreSQL)', () => {
  let kafka: Kafka;
  let admin: Admin;
  let prefix: string;
  let db: TestDb;
  const groupId = uniqueName('materialize.reset');
  let running: RunningMaterializer | undefined;
  let resetAt = 0;
  let later = 0; // records produced after resetAt

  beforeAll(async () => {
    kafka = testKafka('reset-materializer-test');
    admin = createAdmin();
    prefix = await isolatedTopics(kafka, 'rmat');
    db = await migratedSchema('rmat');
    const fixture = pipelineFixture({ items: ITEMS, jobs: 2, prefix });
    const firstKeys = new Set(
      fixture
        .filter((r) => r.record === 'RawHeadline')
        .slice(0, FIRST)
        .map((r) => r.key),
    );
    const before = fixture.filter((r) => firstKeys.has(r.key));
    const after = fixture.filter((r) => !firstKeys.has(r.key));
    later = after.length;
    await produceFixture(kafka, prefix, before);
    await sleep(1_100); // broker timestamps (CreateTime = now) on either side of resetAt
    resetAt = Date.now();
    await sleep(1_100);
    await produceFixture(kafka, prefix, after);
  });
  afterAll(async () => {
    await running?.stop();
    await db?.drop();
    await deleteTopics(kafka, prefix);
    await admin?.close();
  });

  const start = () =>
    startMaterializer({ pool: db.pool, kafka, prefix, groupId, refresh: false, sessionTimeout: 6_000 });
  const q = async (sql: string) => (await db.pool.query(sql)).rows;
  const itemRows = () =>
    q(
      `SELECT to_jsonb(i) - 'first_materialized_at' - 'updated_at' - 'search_tsv' AS row FROM items i ORDER BY item_id`,
    );

  it('refuses while the materializer runs (its consumer is a member of the group), then re-applies exactly the re-read records', async () => {
    running = await start();
    await waitCaughtUp(kafka, db.pool, prefix, groupId);
    expect(running.stats.records).toBe(ITEMS * 5);

    // Running: the materializer's consumer is a member of its Kafka group; the reset says who.
    const refused = await planReset({
      admin,
      pool: db.pool,
      groupId,
      scope: { kind: 'all-topics' },
      mode: { kind: 'to-datetime', timestamp: resetAt },
    }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GroupActiveError);
    expect((refused as GroupActiveError).members.length).toBeGreaterThan(0);
    expect((refused as GroupActiveError).message).toMatch(/client reset-materializer-test/);

    await running.stop();
    running = undefined;
    const itemsBefore = await itemRows();
    const stagesBefore = await q('SELECT job_id, stage, item_id, records FROM item_stages ORDER BY 1, 2, 3');
    expect(itemsBefore).toHaveLength(ITEMS);
    expect(stagesBefore.every((r) => r.records === 1)).toBe(true);

    // auto-detected: the group has consumer_offsets rows
    const plan = await planReset({
      admin,
      pool: db.pool,
      groupId,
      scope: { kind: 'all-topics' },
      mode: { kind: 'to-datetime', timestamp: resetAt },
    });
    expect(plan.store).toBe('postgres');
    const reread = plan.partitions.reduce((a, p) => a + (p.reprocess ?? 0n), 0n);
    expect(reread).toBe(BigInt(later));

    // The materializer also commits to its Kafka group, so Kafka's own tool plans the same targets.
    const byTopic = new Map<string, number[]>();
    for (const p of plan.partitions) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition]);
    const tool = await toolReset(groupId, [
      ...[...byTopic].flatMap(([t, ps]) => ['--topic', `${t}:${ps.join(',')}`]),
      '--to-datetime',
      new Date(resetAt).toISOString().slice(0, -1),
      '--dry-run',
    ]);
    expect(lines(plan.partitions.map((p) => [`${p.topic}\u0000${p.partition}`, p.target]))).toEqual(tool.rows);

    const result = await applyReset(plan, { admin, pool: db.pool });
    expect(result).toEqual({ applied: plan.partitions.length, kafkaMirror: 'ok' });
    const stored = await storedOffsets(db.pool, groupId);
    expect(lines(stored)).toEqual(lines(plan.partitions.map((p) => [`${p.topic}\u0000${p.partition}`, p.target])));
    // the Kafka group shows the same positions (lag tools agree)
    expect(await committedLines(admin, groupId)).toEqual(lines(stored));

    running = await start();
    await waitCaughtUp(kafka, db.pool, prefix, groupId);
    const second = running.stats;
    await running.stop();
    running = undefined;
    expect(second.records).toBe(later); // exactly the records after resetAt, read again
    expect(second.applied).toBe(later); // none of them dropped as already applied

    // Applied once more each (records = 2) — the later items' stage rows only; nothing duplicated or changed.
    const stagesAfter = await q('SELECT job_id, stage, item_id, records FROM item_stages ORDER BY 1, 2, 3');
    expect(stagesAfter).toHaveLength(stagesBefore.length);
    expect(stagesAfter.filter((r) => r.records === 2)).toHaveLength(later);
    expect(stagesAfter.filter((r) => r.records === 1)).toHaveLength(ITEMS * 5 - later);
    expect(await itemRows()).toEqual(itemsBefore);
    const [{ n, distinct }] = await q('SELECT count(*)::int AS n, count(DISTINCT item_id)::int AS distinct FROM items');
    expect({ n, distinct }).toEqual({ n: ITEMS, distinct: ITEMS });
  });

  it('writes nothing when the stored offsets moved between plan and apply', async () => {
    const plan = await planReset({
      admin,
      pool: db.pool,
      groupId,
      scope: { kind: 'all-topics' },
      mode: { kind: 'to-earliest' },
      offsetsIn: 'postgres',
    });
    const moved = plan.partitions.find((p) => (p.current ?? 0n) > 0n)!;
    // as if a materializer had applied one more batch after the plan was made
    await db.pool.query(
      'UPDATE consumer_offsets SET next_offset = next_offset - 1 WHERE group_id = $1 AND topic = $2 AND partition = $3',
      [groupId, moved.topic, moved.partition],
    );
    const before = lines(await storedOffsets(db.pool, groupId));
    const err = await applyReset(plan, { admin, pool: db.pool }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OffsetsMovedError);
    expect((err as Error).message).toContain(`${moved.topic}:${moved.partition}`);
    expect(lines(await storedOffsets(db.pool, groupId))).toEqual(before);
  });
});
