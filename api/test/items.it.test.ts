import { randomBytes } from 'node:crypto';
import { createKafka, loadConfig } from '@feedlog/common';
import { migrate } from '@feedlog/migrations';
import { type RawHeadline, serdeFor } from '@feedlog/schemas';
import { testSchema } from '@feedlog/test';
import type { FastifyInstance } from 'fastify';
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { PgApiKeyStore } from '../src/auth.ts';
import { KafkaIngestSink } from '../src/plugins/kafka.ts';
import { serdeEncoder } from '../src/services.ts';
import { fuzzRequests } from './fuzz.ts';
import { item } from './helpers.ts';

// Real Kafka + schema registry + PostgreSQL (from the integration global setup). Topics and
// subjects get a unique prefix, PostgreSQL a schema of its own.
const config = loadConfig();

const prefix = `it-api-${Date.now().toString(36)}${randomBytes(3).toString('hex')}-`;
const topic = `${prefix}raw-headlines`;

describe('POST /v1/items against Kafka, the registry and PostgreSQL', () => {
  const kafka = createKafka(config, { clientId: 'feedlog-api-it' });
  let admin: Admin;
  let app: FastifyInstance;
  let pool: pg.Pool;
  let drop: () => Promise<void>;
  let key: string;
  let keyId: string; // jobs record the key id as caller, never the key's name
  const bodyLimit = 256 * 1024;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    const s = await testSchema('api');
    pool = s.pool;
    drop = s.drop;
    await migrate(pool);
    ({ key, id: keyId } = await new PgApiKeyStore(pool).create('it-writer', ['write'], 100_000));
    app = await buildApp({
      sink: new KafkaIngestSink(kafka, topic),
      // the test registers RawHeadline under its prefixed subject; production looks it up
      encoder: serdeEncoder(config, prefix, true),
      pool,
      bodyLimit,
      closeDependencies: false,
    });
  });

  afterAll(async () => {
    await app?.close();
    await drop?.();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    for (const subject of [`${topic}-value`]) {
      await fetch(`${config.registry.url}/subjects/${subject}`, { method: 'DELETE' }).catch(() => undefined);
      await fetch(`${config.registry.url}/subjects/${subject}?permanent=true`, { method: 'DELETE' }).catch(
        () => undefined,
      );
    }
    await admin.disconnect();
  });

  const endOffsets = async () => (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.offset), 0);

  async function readAll(): Promise<{ key: string; value: RawHeadline; partition: number }[]> {
    const serde = serdeFor('RawHeadline', topic, { prefix, registryUrl: config.registry.url });
    const consumer = kafka.consumer({
      groupId: `${prefix}reader-${randomBytes(3).toString('hex')}`,
      maxWaitTimeInMs: 50,
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const total = await endOffsets();
    const out: { key: string; value: RawHeadline; partition: number }[] = [];
    await new Promise<void>((resolve, reject) => {
      if (total === 0) return resolve();
      consumer
        .run({
          eachMessage: async ({ message, partition }) => {
            out.push({ key: message.key!.toString(), value: await serde.decode(message.value!), partition });
            if (out.length >= total) resolve();
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    return out;
  }

  const post = (payload: unknown, url = '/v1/items') =>
    app.inject({ method: 'POST', url, headers: { 'x-api-key': key }, payload: payload as Record<string, unknown> });

  it('produces each item as a RawHeadline keyed by its id, records the job; an invalid batch produces nothing; a re-post keeps the ids', async () => {
    const items = Array.from({ length: 40 }, (_, i) => item(i, i % 3 === 0 ? { guid: `guid-${i}` } : {}));
    const r = await post({ items });
    expect(r.statusCode).toBe(202);
    const body = r.json();
    expect(await endOffsets()).toBe(40);

    const records = await readAll();
    expect(records).toHaveLength(40);
    const byKey = new Map(records.map((x) => [x.key, x.value]));
    for (const [i, it] of body.items.entries()) {
      const rec = byKey.get(it.item_id)!;
      expect(rec, `item ${i}`).toBeDefined();
      expect(rec.item_id).toBe(it.item_id);
      expect(rec.job_id).toBe(body.job_id);
      expect(rec.headline.title).toBe(items[it.index]!.title);
      expect(rec.headline.url).toBe(`https://example.com/news/${it.index}`);
      expect(rec.headline.guid).toBe(it.index % 3 === 0 ? `guid-${it.index}` : null);
      expect(rec.headline.published_at).toBe(Date.parse('2024-05-01T12:00:00Z'));
    }
    // keyed by item id: the records spread over the partitions by key
    expect(new Set(records.map((x) => x.partition)).size).toBeGreaterThan(1);

    const job = await pool.query('SELECT kind, caller, expected_count, status FROM jobs WHERE id = $1', [body.job_id]);
    expect(job.rows[0]).toEqual({ kind: 'ingest', caller: keyId, expected_count: 40, status: 'running' });
    const viaApi = await app.inject({ method: 'GET', url: `/v1/jobs/${body.job_id}` });
    expect(viaApi.statusCode).toBe(200);
    expect(viaApi.json()).toMatchObject({ job_id: body.job_id, caller: keyId, expected: 40, kind: 'ingest' });

    // one bad item: 400, nothing produced
    const bad = await post({ items: [...items.slice(0, 5), item(99, { url: 'mailto:x@y' })] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().details).toEqual([{ index: 5, field: 'url', message: expect.any(String) }]);
    expect(await endOffsets()).toBe(40);

    // re-post: same ids, new job
    const again = await post({ items });
    expect(again.statusCode).toBe(202);
    expect(again.json().items).toEqual(body.items);
    expect(again.json().job_id).not.toBe(body.job_id);
    expect(await endOffsets()).toBe(80);

    // partial: only the valid ones
    const partial = await post({ items: [item(200), item(201, { title: '' }), item(202)] }, '/v1/items?partial=true');
    expect(partial.statusCode).toBe(202);
    expect(partial.json().accepted).toBe(2);
    expect(await endOffsets()).toBe(82);
  });

  it('fuzz: 5,000 malformed bodies: never a 5xx, never a record written', async () => {
    const before = await endOffsets();
    const statuses = new Map<number, number>();
    const requests = fuzzRequests(5_000, 6_000_006, 500, bodyLimit);
    for (const [n, r] of requests.entries()) {
      const res = await app.inject({
        method: 'POST',
        url: r.url,
        headers: { ...r.headers, 'x-api-key': key },
        payload: r.payload,
      });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode < 400 || res.statusCode >= 500) {
        throw new Error(
          `#${n} ${r.kind}: ${res.statusCode} ${res.body.slice(0, 300)} for ${String(r.payload).slice(0, 300)}`,
        );
      }
      expect(Object.keys(res.json()).sort()).toEqual(['details', 'error', 'message']);
      // the log end must not move, checked as we go (every 250 requests) and at the end
      if (n % 250 === 249) expect(await endOffsets(), `after request ${n}`).toBe(before);
    }
    expect(await endOffsets()).toBe(before);
    console.log(`[api fuzz] ${requests.length} bodies, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect([...statuses.keys()].every((s) => s >= 400 && s < 500)).toBe(true);
    // a valid batch right after the fuzz still goes through
    expect((await post({ items: [item(5000)] })).statusCode).toBe(202);
    expect(await endOffsets()).toBe(before + 1);
  });
});
