import { LagMonitor } from '@feedlog/lag';
import { testKafka, uniqueName, waitFor } from '@feedlog/test';
import type { FastifyInstance } from 'fastify';
import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from './helpers.ts';

/** GET /v1/lag, the lag gauges on /metrics and the OpenAPI entry, from a real group. */
describe('GET /v1/lag and the lag gauges', () => {
  let kafka: Kafka;
  let admin: Admin;
  let app: FastifyInstance;
  const topic = uniqueName('apilag');
  const group = uniqueName('apilag-g');

  beforeAll(async () => {
    kafka = testKafka('api-lag-it');
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await p.connect();
    await p.send({ topic, acks: -1, messages: Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: 'v' })) });
    await p.disconnect();
    await admin.setOffsets({
      groupId: group,
      topic,
      partitions: [0, 1, 2].map((partition) => ({ partition, offset: '1' })),
    });
    const lag = new LagMonitor({ kafka, groups: (g) => g.startsWith(group), intervalMs: 200, minDistanceMs: 0 });
    ({ app } = await testApp({ lag }));
  });
  afterAll(async () => {
    await app.close();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('serves the report, filtered by group, with figures from the broker', async () => {
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
    const res = await app.inject({ method: 'GET', url: `/v1/lag?group=${encodeURIComponent(group)}` });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.groups).toHaveLength(1);
    const g = body.groups[0];
    expect(g).toMatchObject({ group, offsetsIn: 'kafka', state: 'Empty', lag: 30 - 3 });
    expect(g.partitions.map((p: { partition: number; lag: number }) => [p.partition, p.lag])).toEqual(
      [0, 1, 2].map((p) => [p, (ends.get(p) ?? 0) - 1]),
    );
    const none = await app.inject({ method: 'GET', url: '/v1/lag?group=no-such-group' });
    expect(none.json().groups).toEqual([]);
  });

  it('refuses an empty group filter with a 400', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/lag?group=' });
    expect(res.statusCode).toBe(400);
  });

  it('exposes the gauges on /metrics, refreshed by the monitor, and the route in the OpenAPI document', async () => {
    // the monitor samples on its own timer once the app is ready: the status turns STOP (no member, lag)
    const text = await waitFor('a STOP status gauge', async () => {
      const t = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      return t.includes(`feedlog_consumer_lag_status{group="${group}"} 4`) && t;
    });
    expect(text).toMatch(
      new RegExp(`feedlog_consumer_lag_records\\{group="${group}",topic="${topic}",partition="0"\\} \\d+`),
    );
    expect(text).toMatch(
      new RegExp(`feedlog_consumer_lag_seconds\\{group="${group}",topic="${topic}",partition="0"\\} [\\d.]+`),
    );
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(doc.paths['/v1/lag'].get.responses['200']).toBeDefined();
  });
});
