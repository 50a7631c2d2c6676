import { randomBytes } from 'node:crypto';
import { createKafka, loadConfig } from '@feedlog/common';
import { migrate } from '@feedlog/migrations';
import { testSchema, waitFor } from '@feedlog/test';
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { KafkaRawSink } from '../src/producer.ts';
import { FeedStore } from '../src/store.ts';

/** Real PostgreSQL (a schema of its own, migrated), Kafka (a prefixed raw-headlines) and registry for one test file. */
export async function pollerHarness(name: string) {
  const config = loadConfig();
  const prefix = `it-${name}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}-`;
  const topic = `${prefix}raw-headlines`;
  const kafka = createKafka(config, { clientId: `feedlog-${name}-it` });
  const admin: Admin = kafka.admin();
  await admin.connect();
  await createTopicWithLeaders(admin, topic, 3);
  const db = await testSchema(name);
  await migrate(db.pool);
  const sink = new KafkaRawSink(kafka, { prefix, registryUrl: config.registry.url, autoRegister: true });
  /** records in the topic (sum of high watermarks) */
  const produced = async () => (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  return {
    config,
    prefix,
    topic,
    kafka,
    admin,
    pool: db.pool as pg.Pool,
    schema: db.schema,
    store: new FeedStore(db.pool),
    sink,
    produced,
    async close() {
      await sink.close();
      await db.drop();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await fetch(`${config.registry.url}/subjects/${encodeURIComponent(`${topic}-value`)}`, {
        method: 'DELETE',
      }).catch(() => undefined);
      await admin.disconnect();
    },
  };
}
export type PollerHarness = Awaited<ReturnType<typeof pollerHarness>>;

/**
 * Create a topic and wait until every partition has a leader. kafkajs' own waitForLeaders gives
 * up on the first UNKNOWN_TOPIC_OR_PARTITION while the metadata propagates (seen under load).
 */
export async function createTopicWithLeaders(admin: Admin, topic: string, partitions: number): Promise<void> {
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: false,
  });
  await waitFor(`leaders for ${topic}`, async () => {
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    const parts = md.topics[0]?.partitions ?? [];
    return parts.length === partitions && parts.every((p) => p.leader >= 0);
  });
}
