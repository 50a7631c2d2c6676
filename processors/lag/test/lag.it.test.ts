import { setTimeout as sleep } from 'node:timers/promises';
import { migrate } from '@feedlog/migrations';
import { testKafka, testSchema, uniqueName, waitFor } from '@feedlog/test';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GroupLag, LagMonitor } from '../src/index.ts';
import { createTopic, describeGroup, produce, sampleUntil, startConsumer, testMonitor } from './helpers.ts';

/**
 * Lag figures against Kafka's own `kafka-consumer-groups --describe`, and Burrow's statuses driven
 * by real groups on the real broker (windows of a few hundred milliseconds).
 */
describe('LagMonitor on the real broker', () => {
  let kafka: Kafka;
  let admin: Admin;
  const topics: string[] = [];
  const consumers: Consumer[] = [];
  const monitors: LagMonitor[] = [];

  beforeAll(async () => {
    kafka = testKafka('lag-it');
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    for (const m of monitors) await m.close();
    for (const c of consumers) await c.disconnect().catch(() => undefined);
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  });

  async function topic(name: string, partitions: number): Promise<string> {
    const t = uniqueName(name);
    topics.push(t);
    await createTopic(admin, t, partitions);
    return t;
  }
  function monitor(group: string, extra: Parameters<typeof testMonitor>[2] = {}): LagMonitor {
    const m = testMonitor(kafka, group, extra);
    monitors.push(m);
    return m;
  }
  const only = (r: { groups: GroupLag[] }, group: string): GroupLag => {
    const g = r.groups.find((x) => x.group === group);
    if (!g) throw new Error(`group ${group} not in the report`);
    return g;
  };

  it('equals kafka-consumer-groups --describe partition by partition on a live 6-partition group (markers included)', async () => {
    const t = await topic('lageq', 6);
    const group = uniqueName('lageq-g');
    await produce(kafka, t, 600);
    const { consumer, consumed } = await startConsumer(kafka, group, t);
    consumers.push(consumer);
    await waitFor('600 consumed', () => consumed() >= 600);
    const m = monitor(group);
    await sampleUntil(m, (r) => only(r, group).lag === 0, { what: 'commits to reach the log end' });
    consumer.pause([{ topic: t }]);
    // more records the paused member will not read: plain ones and two transactions (two markers per partition)
    await produce(kafka, t, 150, { from: 600 });
    await produce(kafka, t, 60, { from: 750, transactionalId: `${group}.tx` });
    await produce(kafka, t, 30, { from: 810, transactionalId: `${group}.tx` });
    await sleep(300);

    const report = await m.sample();
    const kafkaRows = await describeGroup(group);
    const ours = only(report, group);
    expect(ours.state).toBe('Stable');
    expect(ours.offsetsIn).toBe('kafka');
    expect(ours.members).toHaveLength(1);
    expect(ours.members[0]!.assignments).toEqual([{ topic: t, partitions: [0, 1, 2, 3, 4, 5] }]);
    expect(kafkaRows).toHaveLength(6);
    expect(
      ours.partitions.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        current: p.committedOffset,
        logEnd: p.logEndOffset,
        lag: p.lag,
        consumerId: p.owner?.memberId ?? null,
        host: p.owner?.host ?? null,
        clientId: p.owner?.clientId ?? null,
      })),
    ).toEqual(kafkaRows);
    // 240 records and 12 markers were appended after the committed offsets
    expect(ours.lag).toBe(240 + 12);
    expect(ours.partitions.every((p) => !p.markerOnly)).toBe(true);
    // the oldest unconsumed record is one of the 150 plain ones produced above
    expect(ours.lagSeconds).toBeGreaterThan(0.2);
    expect(ours.lagSeconds).toBeLessThan(30);
  });

  it('a group keeping up reads OK', async () => {
    const t = await topic('lagok', 3);
    const group = uniqueName('lagok-g');
    const { consumer, consumed } = await startConsumer(kafka, group, t);
    consumers.push(consumer);
    const m = monitor(group);
    let sent = 0;
    for (let round = 0; round < 4; round++) {
      await produce(kafka, t, 30, { from: sent });
      sent += 30;
      await waitFor(`${sent} consumed`, () => consumed() >= sent);
      await sampleUntil(m, (r) => only(r, group).lag === 0, { what: 'the group to catch up' });
    }
    const g = only(await m.sample(), group);
    expect(g.status).toBe('OK');
    expect(g.partitions.every((p) => p.status === 'OK' && p.lagSeconds === 0)).toBe(true);
    expect(g.rateIn).toBeGreaterThan(0);
    expect(g.rateOut).toBeGreaterThan(0);
  });

  it('a stopped consumer with lag reads STOP once its commits are older than the window', async () => {
    const t = await topic('lagstop', 3);
    const group = uniqueName('lagstop-g');
    await produce(kafka, t, 90);
    const { consumer, consumed } = await startConsumer(kafka, group, t);
    await waitFor('90 consumed', () => consumed() >= 90);
    const m = monitor(group);
    await sampleUntil(m, (r) => only(r, group).lag === 0, { what: 'commits' });
    await consumer.disconnect();
    await produce(kafka, t, 60, { from: 90 });
    const first = only(await m.sample(), group);
    expect(first.state).toBe('Empty');
    expect(first.lag).toBe(60);
    // the window's history has zero lag (recent broker ends at the committed offset): not yet STOP
    expect(first.status).toBe('OK');
    const stopped = await sampleUntil(m, (r) => only(r, group).status === 'STOP' && only(r, group), {
      what: 'STOP',
      timeoutMs: 10_000,
    });
    expect(stopped.partitions.filter((p) => p.lag > 0).every((p) => p.status === 'STOP')).toBe(true);
  });

  it('a live consumer committing the same offset while lag grows reads STALL', async () => {
    const t = await topic('lagstall', 2);
    const group = uniqueName('lagstall-g');
    await produce(kafka, t, 40);
    const { consumer, consumed } = await startConsumer(kafka, group, t);
    consumers.push(consumer);
    await waitFor('40 consumed', () => consumed() >= 40);
    const m = monitor(group);
    const caught = await sampleUntil(m, (r) => only(r, group).lag === 0 && only(r, group), { what: 'commits' });
    consumer.pause([{ topic: t }]);
    const committed = caught.partitions.map((p) => ({
      topic: t,
      partition: p.partition,
      offset: String(p.committedOffset),
    }));
    // commit the same offsets again and again while records keep arriving
    let from = 40;
    const lags: number[] = [];
    for (let i = 0; i < 6; i++) {
      await consumer.commitOffsets(committed);
      await produce(kafka, t, 10, { from });
      from += 10;
      lags.push(only(await m.sample(), group).lag);
      await sleep(100);
    }
    const g = only(await m.sample(), group);
    expect(g.state).toBe('Stable');
    expect(g.partitions.map((p) => p.committedOffset)).toEqual(caught.partitions.map((p) => p.committedOffset));
    expect(lags).toEqual([...lags].sort((a, b) => a - b));
    expect(g.lag).toBe(60);
    expect(g.status).toBe('STALL');
    expect(g.partitions.every((p) => p.status === 'STALL' && p.owner !== undefined)).toBe(true);
  });

  it('offsets reset backwards read REWIND', async () => {
    const t = await topic('lagrw', 2);
    const group = uniqueName('lagrw-g');
    await produce(kafka, t, 50);
    const { consumer, consumed } = await startConsumer(kafka, group, t);
    await waitFor('50 consumed', () => consumed() >= 50);
    const m = monitor(group);
    await sampleUntil(m, (r) => only(r, group).lag === 0, { what: 'commits' });
    await consumer.disconnect();
    expect(only(await m.sample(), group).status).toBe('OK');
    await admin.resetOffsets({ groupId: group, topic: t, earliest: true });
    const g = only(await m.sample(), group);
    expect(g.lag).toBe(50);
    expect(g.status).toBe('REWIND');
    expect(g.partitions.filter((p) => p.lag > 0).every((p) => p.status === 'REWIND')).toBe(true);
  });

  it('an idle exactly-once consumer with only a transaction marker after its offset reads OK', async () => {
    const t = await topic('lageos', 3);
    const plain = await topic('lagplain', 1);
    const group = uniqueName('lageos-g');
    const control = uniqueName('lagplain-g');
    await produce(kafka, t, 60, { transactionalId: `${group}.tx` });
    const { consumer, consumed } = await startConsumer(kafka, group, t);
    consumers.push(consumer);
    await waitFor('60 consumed', () => consumed() >= 60);
    // a control group one real record behind, on a topic without transactions
    await produce(kafka, plain, 5);
    await admin.setOffsets({ groupId: control, topic: plain, partitions: [{ partition: 0, offset: '4' }] });

    const m = testMonitor(kafka, group, { groups: [group, control] });
    monitors.push(m);
    // the member commits the offset after its last record; the commit marker stays after it
    await waitFor('commits after the last record', async () => {
      const rows = await describeGroup(group);
      return rows.length === 3 && rows.every((r) => r.lag === 1) && rows;
    });
    for (let i = 0; i < 4; i++) {
      await m.sample();
      await sleep(150);
    }
    const r = await m.sample();
    const g = only(r, group);
    expect(g.lag).toBe(3); // what Kafka's tool prints: one marker per partition
    expect(g.partitions.every((p) => p.lag === 1 && p.markerOnly && p.lagSeconds === 0 && p.status === 'OK')).toBe(
      true,
    );
    expect(g.status).toBe('OK');
    expect(g.lagSeconds).toBe(0);
    const c = only(r, control);
    expect(c.partitions[0]).toMatchObject({ lag: 1, markerOnly: false, status: 'STOP' });
    expect(c.lagSeconds).toBeGreaterThan(0);
  });

  it("a materializer-style group appears with its PostgreSQL offsets (consumer_offsets), not the Kafka group's", async () => {
    const t = await topic('lagpg', 6);
    const group = uniqueName('lagpg-g');
    await produce(kafka, t, 120);
    const ends = new Map((await admin.fetchTopicOffsets(t)).map((o) => [o.partition, Number(o.high)]));
    const db = await testSchema('lagpg');
    try {
      await migrate(db.pool);
      const stored = [0, 1, 2, 3, 4, 5].map((p) => ({ partition: p, next: Math.floor((ends.get(p) ?? 0) / (p + 1)) }));
      for (const s of stored) {
        await db.pool.query(
          'INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, $4)',
          [group, t, s.partition, s.next],
        );
      }
      // the Kafka group says something else (the materializer mirrors its position there after the fact)
      await admin.setOffsets({
        groupId: group,
        topic: t,
        partitions: [0, 1, 2, 3, 4, 5].map((p) => ({ partition: p, offset: '0' })),
      });
      const m = testMonitor(kafka, group, { pool: db.pool });
      monitors.push(m);
      const g = only(await m.sample(), group);
      expect(g.offsetsIn).toBe('postgres');
      expect(g.state).toBe('Empty');
      expect(g.partitions.map((p) => [p.partition, p.committedOffset, p.logEndOffset, p.lag])).toEqual(
        stored.map((s) => [s.partition, s.next, ends.get(s.partition), (ends.get(s.partition) ?? 0) - s.next]),
      );
      expect(g.lag).toBe(120 - stored.reduce((a, s) => a + s.next, 0));
    } finally {
      await db.drop();
    }
  });

  it('still reports the Kafka groups, with a warning, when PostgreSQL does not answer', async () => {
    const t = await topic('lagpgdown', 2);
    const group = uniqueName('lagpgdown-g');
    await produce(kafka, t, 10);
    await admin.setOffsets({
      groupId: group,
      topic: t,
      partitions: [0, 1].map((partition) => ({ partition, offset: '0' })),
    });
    // nothing listens on port 1
    const down = new pg.Pool({
      connectionString: 'postgres://feedlog@127.0.0.1:1/feedlog',
      connectionTimeoutMillis: 1_000,
    });
    down.on('error', () => undefined);
    try {
      const m = testMonitor(kafka, group, { pool: down });
      monitors.push(m);
      const r = await m.sample();
      expect(only(r, group)).toMatchObject({ offsetsIn: 'kafka', lag: 10 });
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings[0]).toContain('PostgreSQL consumer_offsets unreadable');
    } finally {
      await down.end();
    }
  });
});
