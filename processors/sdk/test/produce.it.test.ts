import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildApp } from '@feedlog/api/app';
import { MemoryApiKeyStore } from '@feedlog/api/auth';
import { KafkaIngestSink } from '@feedlog/api/plugins/kafka';
import { serdeEncoder } from '@feedlog/api/services';
import { createKafka, loadConfig } from '@feedlog/common';
import { uniqueName } from '@feedlog/test';
import type { FastifyInstance } from 'fastify';
import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { produceInput } from '../src/produce.ts';
import { parseColumnMap } from '../src/sources.ts';

const KEY = 'fl_produce_it_key';
const fixture = (f: string) => join(import.meta.dirname, 'fixtures', f);
const config = loadConfig();

/** Every key in the topic, read from the beginning to the high watermark. */
async function keysIn(kafka: Kafka, admin: Admin, topic: string): Promise<string[]> {
  const ends = await admin.fetchTopicOffsets(topic);
  const total = ends.reduce((n, p) => n + Number(p.high), 0);
  if (total === 0) return [];
  const consumer = kafka.consumer({ groupId: uniqueName('produce-keys') });
  const keys: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((done, fail) => {
    consumer
      .run({
        eachMessage: async ({ message }) => {
          keys.push(message.key!.toString());
          if (keys.length >= total) done();
        },
      })
      .catch(fail);
  });
  await consumer.disconnect();
  return keys;
}

describe('feedlog produce through the API and --direct (real Kafka and registry)', () => {
  const prefix = `it-produce-${Date.now().toString(36)}-`;
  const topic = `${prefix}raw-headlines`;
  const kafka = createKafka(config, { clientId: 'feedlog-produce-it' });
  let admin: Admin;
  let app: FastifyInstance;
  let url: string;
  const base = { batch: 50, concurrency: 2 };

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    app = await buildApp({
      sink: new KafkaIngestSink(kafka, topic),
      encoder: serdeEncoder(config, prefix, true),
      apiKeys: new MemoryApiKeyStore().add(KEY, {
        name: 'produce-it',
        scopes: ['write'],
        rateLimitPerMinute: 1_000_000,
      }),
      rateLimit: false,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await fetch(`${config.registry.url}/subjects/${encodeURIComponent(`${topic}-value`)}`, { method: 'DELETE' }).catch(
      () => undefined,
    );
    await admin.disconnect();
  });

  it('a malformed CSV: each bad row reported with its line and reason, the rest produced, duplicates counted', async () => {
    const map = parseColumnMap('title=title,url=link,source=outlet,guid=id,published_at=when');
    const dry = await produceInput(fixture('malformed.csv'), {
      ...base,
      mode: 'api',
      url,
      apiKey: KEY,
      map,
      dryRun: true,
    });
    const s = await produceInput(fixture('malformed.csv'), { ...base, mode: 'api', url, apiKey: KEY, map });
    for (const r of [dry, s]) {
      expect(r).toMatchObject({ produced: 3, duplicates: 1, rejected: 3 });
      expect(r.rejectedRows).toEqual([
        { line: 4, reason: 'expected 5 fields (as in the header), found 6' },
        { line: 5, reason: 'url is missing' },
        { line: 8, reason: 'a quoted field opened on this line is never closed (nothing after it could be read)' },
      ]);
    }
    expect(dry.mode).toBe('dry-run');
    expect(s.jobIds).toHaveLength(1);
    const keys = await keysIn(kafka, admin, topic);
    expect(keys).toHaveLength(3); // the dry run produced nothing
  });

  it('a feed file goes in like the poller reads it', async () => {
    const feed = resolve(import.meta.dirname, '../../poller/fixtures/world.rss');
    const s = await produceInput(feed, { ...base, mode: 'direct', url, source: 'news.example.com', prefix });
    expect(s).toMatchObject({ total: 5, produced: 5, rejected: 0, mode: 'direct' });
  });

  it('UCI stories: every row once; a second run (API, then --direct) adds no item downstream', async () => {
    // the whole shared file is loaded once by hand (README); here a slice of it, or the own sample without ../shared
    const shared = resolve(import.meta.dirname, '../../../../shared/data/uci/stories-dev.csv');
    let file = fixture('uci-sample.csv');
    if (existsSync(shared)) {
      file = join(tmpdir(), `${uniqueName('uci-slice')}.csv`);
      writeFileSync(file, readFileSync(shared, 'utf8').split('\n').slice(0, 401).join('\n'));
    }
    const before = new Set(await keysIn(kafka, admin, topic));
    const first = await produceInput(file, { ...base, mode: 'api', url, apiKey: KEY });
    expect(first.produced + first.duplicates + first.rejected).toBe(first.total);
    expect(first.produced).toBeGreaterThan(0);
    const afterFirst = await keysIn(kafka, admin, topic);
    const firstNew = new Set(afterFirst.filter((k) => !before.has(k)));
    expect(firstNew.size).toBe(first.produced); // each row once, under its own id

    const again = await produceInput(file, { ...base, mode: 'api', url, apiKey: KEY });
    const direct = await produceInput(file, { ...base, mode: 'direct', url, prefix });
    expect(again.produced).toBe(first.produced);
    expect(direct.produced).toBe(first.produced);
    const afterAll3 = await keysIn(kafka, admin, topic);
    expect(afterAll3.length).toBe(afterFirst.length + 2 * first.produced); // records were written again…
    expect(new Set(afterAll3).size).toBe(new Set(afterFirst).size); // …under the same keys: no new item downstream
  });
});
