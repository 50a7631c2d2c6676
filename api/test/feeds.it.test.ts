import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createKafka, loadConfig } from '@feedlog/common';
import { migrate } from '@feedlog/migrations';
import { Poller } from '@feedlog/poller/poller';
import { KafkaRawSink } from '@feedlog/poller/producer';
import { FeedStore } from '@feedlog/poller/store';
import { testSchema } from '@feedlog/test';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgApiKeyStore } from '../src/auth.ts';
import { testApp } from './helpers.ts';

// The feed registry routes against PostgreSQL (a schema of their own); Kafka is not on this path.
describe('/v1/feeds (admin scope) against PostgreSQL', () => {
  let app: FastifyInstance;
  let pool: pg.Pool;
  let drop: () => Promise<void>;
  let adminKey: string;
  let writeKey: string;
  beforeAll(async () => {
    const db = await testSchema('api_feeds');
    drop = db.drop;
    pool = db.pool;
    await migrate(db.pool);
    const keys = new PgApiKeyStore(db.pool);
    adminKey = (await keys.create('feeds-admin', ['admin'], 100_000)).key;
    writeKey = (await keys.create('feeds-writer', ['write'], 100_000)).key;
    ({ app } = await testApp({ pool: db.pool, apiKeys: keys, closeDependencies: false }));
  });
  afterAll(async () => {
    await app?.close();
    await drop?.();
  });
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, key: string | null = adminKey) =>
    app.inject({ method, url, ...(payload ? { payload } : {}), headers: key ? { 'x-api-key': key } : {} });

  it('needs an admin key', async () => {
    expect((await call('GET', '/v1/feeds', undefined, null)).statusCode).toBe(401);
    expect((await call('GET', '/v1/feeds', undefined, writeKey)).statusCode).toBe(403);
  });

  it('add, list, show, pause, resume, poll-now, remove', async () => {
    const add = await call('POST', '/v1/feeds', {
      url: 'https://www.example.com/rss/world.xml',
      schedule: '0 0 7,10,13,16,19,22 * * 1-6',
      time_zone: 'Europe/Berlin',
    });
    expect(add.statusCode).toBe(201);
    const feed = add.json();
    expect(feed).toMatchObject({
      source: 'example.com',
      name: 'example.com',
      enabled: true,
      time_zone: 'Europe/Berlin',
      consecutive_failures: 0,
    });
    expect(add.headers.location).toBe(`/v1/feeds/${feed.id}`);
    const dup = await call('POST', '/v1/feeds', { url: 'https://www.example.com/rss/world.xml', schedule: '15m' });
    expect([dup.statusCode, dup.json().error]).toEqual([409, 'feed_exists']);
    const bad = await call('POST', '/v1/feeds', { url: 'https://x.example/a', schedule: '0 7 * * *' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/six-field cron/);
    const notHttp = await call('POST', '/v1/feeds', { url: 'ftp://x.example/a', schedule: '15m' });
    expect(notHttp.statusCode).toBe(400);

    expect((await call('GET', '/v1/feeds')).json().feeds.map((f: { id: number }) => f.id)).toEqual([feed.id]);
    expect((await call('GET', `/v1/feeds/${feed.id}`)).json()).toMatchObject({ feed: { id: feed.id }, polls: [] });
    expect((await call('POST', `/v1/feeds/${feed.id}/pause`)).json().enabled).toBe(false);
    expect((await call('POST', `/v1/feeds/${feed.id}/resume`)).json().enabled).toBe(true);
    const before = Date.now();
    const due = (await call('POST', `/v1/feeds/${feed.id}/poll-now`)).json();
    expect(Date.parse(due.next_due_at)).toBeGreaterThanOrEqual(before - 1000);
    expect((await call('DELETE', `/v1/feeds/${feed.id}`)).statusCode).toBe(204);
    expect((await call('GET', `/v1/feeds/${feed.id}`)).statusCode).toBe(404);
    expect((await call('POST', `/v1/feeds/${feed.id}/pause`)).statusCode).toBe(404);
  });

  it('a poll is a job in GET /v1/jobs (caller poller:feed/<id>)', async () => {
    const config = loadConfig();
    const prefix = `it-api-feeds-${Date.now().toString(36)}-`;
    const topic = `${prefix}raw-headlines`;
    const kafka = createKafka(config, { clientId: 'feedlog-api-feeds-it' });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    const body = readFileSync(join(import.meta.dirname, '../../processors/poller/fixtures/world.rss'));
    const server: Server = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/rss+xml' }).end(body),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const sink = new KafkaRawSink(kafka, { prefix, registryUrl: config.registry.url, autoRegister: true });
    try {
      const feedUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/world.rss`;
      const feed = (await call('POST', '/v1/feeds', { url: feedUrl, schedule: '15m' })).json();
      const [report] = await new Poller({ store: new FeedStore(pool), pool, sink }).drain();
      expect(report).toMatchObject({ feedId: feed.id, outcome: 'items', produced: 5 });
      const job = (await call('GET', `/v1/jobs/${report!.jobId}`)).json();
      expect(job).toMatchObject({ job_id: report!.jobId, caller: `poller:feed/${feed.id}`, expected: 5 });
      await pool.query('REFRESH MATERIALIZED VIEW job_progress');
      const list = (await call('GET', `/v1/jobs?caller=${encodeURIComponent(`poller:feed/${feed.id}`)}`)).json();
      expect(list.jobs.map((j: { job_id: string }) => j.job_id)).toEqual([report!.jobId]);
      const shown = (await call('GET', `/v1/feeds/${feed.id}`)).json();
      expect(shown.polls).toMatchObject([{ job_id: report!.jobId, outcome: 'items', produced: 5, http_status: 200 }]);
      expect(shown.feed).toMatchObject({ items_seen: 5, consecutive_failures: 0, polls: 1 });
    } finally {
      await sink.close();
      server.close();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await fetch(`${config.registry.url}/subjects/${encodeURIComponent(`${topic}-value`)}`, {
        method: 'DELETE',
      }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});
