import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Poller } from '../src/poller.ts';
import { KafkaRawSink } from '../src/producer.ts';
import { parseSchedule } from '../src/schedule.ts';
import { FeedStore } from '../src/store.ts';
import { FeedServer } from './feed-server.ts';
import { type PollerHarness, pollerHarness } from './harness.ts';

const world = readFileSync(join(import.meta.dirname, '../fixtures/world.rss'));

describe('schedules and several pollers over PostgreSQL leases', () => {
  let h: PollerHarness;
  let server: FeedServer;
  beforeAll(async () => {
    h = await pollerHarness('fleet');
    server = await new FeedServer().start();
  });
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  it('a cron feed fires at the expected times under a fake clock', async () => {
    let now = Date.UTC(2026, 2, 27, 20, 30); // Fri 21:30 Berlin
    const url = server.route('/cron.rss', { kind: 'feed', body: world, etag: true });
    const feed = await h.store.add(
      { url, schedule: parseSchedule('0 0 7,10,13,16,19,22 * * 1-6', 'Europe/Berlin') },
      now,
    );
    const poller = new Poller({ store: h.store, pool: h.pool, sink: h.sink, clock: () => now, concurrency: 1 });
    const polledAt: string[] = [];
    // half an hour at a time over two days: polls happen only at the firings, each once
    const end = now + 2 * 86_400_000;
    for (; now < end; now += 30 * 60_000) {
      for (const r of await poller.drain()) polledAt.push(new Date(r.startedAt).toISOString());
    }
    expect(polledAt).toEqual([
      '2026-03-27T21:00:00.000Z',
      '2026-03-28T06:00:00.000Z',
      '2026-03-28T09:00:00.000Z',
      '2026-03-28T12:00:00.000Z',
      '2026-03-28T15:00:00.000Z',
      '2026-03-28T18:00:00.000Z',
      '2026-03-28T21:00:00.000Z',
    ]);
    expect(server.hits.get('/cron.rss')).toBe(7);
    await h.store.remove(feed.id);
  });

  it('two pollers over 50 feeds: each due poll happens exactly once', async () => {
    let now = Date.UTC(2026, 5, 1, 8);
    const paths: string[] = [];
    for (let i = 0; i < 50; i++) {
      const path = `/fleet/${i}.rss`;
      paths.push(path);
      // a few slow-ish answers so the two pollers' claims interleave
      await h.store.add(
        {
          url: server.route(
            path,
            i % 7 === 0
              ? { kind: 'slow', body: world.subarray(0, 64), chunkEveryMs: 5 }
              : { kind: 'feed', body: world },
          ),
          schedule: parseSchedule('5m'),
        },
        now,
      );
    }
    const clock = () => now;
    // two pollers as two processes would be: each its own connection pool and producer
    const poolB = new pg.Pool({
      connectionString: h.config.postgres.url,
      max: 5,
      options: `-c search_path=${h.schema}`,
    });
    const sinkB = new KafkaRawSink(h.kafka, {
      prefix: h.prefix,
      registryUrl: h.config.registry.url,
      autoRegister: true,
    });
    const a = new Poller({ store: h.store, pool: h.pool, sink: h.sink, clock, concurrency: 4, owner: 'poller-a' });
    const b = new Poller({
      store: new FeedStore(poolB),
      pool: poolB,
      sink: sinkB,
      clock,
      concurrency: 4,
      owner: 'poller-b',
    });
    const rounds = 4;
    for (let round = 0; round < rounds; round++) {
      const [ra, rb] = await Promise.all([a.drain(), b.drain()]);
      expect(ra.length + rb.length).toBe(50);
      expect(new Set([...ra, ...rb].map((r) => r.feedId)).size).toBe(50);
      now += 5 * 60_000;
    }
    await sinkB.close();
    await poolB.end();
    for (const p of paths) expect(server.hits.get(p)).toBe(rounds);
    const polls = await h.pool.query<{ poller: string; n: number; distinct_due: number }>(
      `SELECT poller, count(*)::int AS n, count(DISTINCT (feed_id, due_at))::int AS distinct_due
       FROM feed_polls JOIN feeds ON feeds.id = feed_polls.feed_id WHERE feeds.url LIKE '%/fleet/%' GROUP BY poller ORDER BY poller`,
    );
    const total = polls.rows.reduce((n, r) => n + r.n, 0);
    expect(total).toBe(50 * rounds);
    expect(polls.rows.map((r) => r.poller)).toEqual(['poller-a', 'poller-b']); // both did work
    const dup = await h.pool.query(
      'SELECT feed_id, due_at FROM feed_polls GROUP BY feed_id, due_at HAVING count(*) > 1',
    );
    expect(dup.rowCount).toBe(0);
  });
});
