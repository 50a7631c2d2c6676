import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '@feedlog/common';
import { migrate } from '@feedlog/migrations';
import { loadSchemas, type RawHeadline, RegistryRestClient, serdeFor } from '@feedlog/schemas';
import { testKafka, testSchema, uniqueName, waitFor } from '@feedlog/test';
import { applyTopics, declareFeedlog, topicNames } from '@feedlog/topics';
import avro from 'avsc';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordDecoder } from '../src/decode.ts';
import { itemJourney } from '../src/item.ts';
import { partitionsOfKey } from '../src/partition.ts';
import { startTail } from '../src/tail.ts';

const registryUrl = loadConfig().registry.url;
const prefix = `${uniqueName('ops').replace(/[^a-z0-9.]/gi, '')}.`;
const raw = `${prefix}${topicNames.raw}`;
const classified = `${prefix}${topicNames.classified}`;
const classifyDlq = `${prefix}classify.dlq`;
let kafka: Kafka;

const headline = (n: number): RawHeadline => ({
  item_id: `${n.toString(16).padStart(32, '0')}`,
  job_id: 'job-ops',
  headline: {
    source: 'ops-test',
    guid: null,
    url: `https://ops.example/${n}`,
    title: `Headline number ${n}`,
    summary: null,
    published_at: null,
    ingested_at: Date.UTC(2026, 0, 1),
  },
});

/** RawHeadline with one more optional field: the second registered version of the subject. */
function rawV2Schema(): string {
  const v1 = loadSchemas().files.RawHeadline.json as { fields: unknown[] };
  return JSON.stringify({ ...v1, fields: [...v1.fields, { name: 'lang', type: ['null', 'string'], default: null }] });
}

async function produce(topic: string, messages: { key: string | null; value: Buffer }[]) {
  // idempotent: right after the topics are created a partition may answer NOT_LEADER, and kafkajs
  // then re-sends the broker's whole request, writing the partitions that had succeeded twice
  // (CI once saw b's record twice in the tail)
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();
}

beforeAll(async () => {
  kafka = testKafka('ops-it');
  const admin = kafka.admin();
  await admin.connect();
  await applyTopics({ admin, prefix });
  await admin.disconnect();
});

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: declareFeedlog({ prefix }).topics.map((t) => t.name) }).catch(() => undefined);
  await admin.disconnect();
  const rest = new RegistryRestClient(registryUrl);
  for (const s of (await rest.subjects()).filter((x) => x.startsWith(prefix)))
    await rest.deleteSubject(s, true).catch(() => undefined);
});

describe('feedlog tail', () => {
  it('decodes records of two schema versions, prints undecodable bytes as such and goes on, leaves no group behind', async () => {
    const v1 = serdeFor('RawHeadline', raw, { prefix, registryUrl, autoRegister: true });
    const v2Text = rawV2Schema();
    const v2Id = await new RegistryRestClient(registryUrl).register(`${raw}-value`, v2Text);
    const v1Id = await v1.schemaId();
    expect(v2Id).not.toBe(v1Id);
    const v2Type = avro.Type.forSchema(JSON.parse(v2Text) as avro.Schema);
    const header = Buffer.alloc(5);
    header.writeInt32BE(v2Id, 1);
    const a = headline(1);
    const b = { ...headline(2), lang: 'en' };
    const unknownId = Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 1, 2, 3]);
    await produce(raw, [
      { key: a.item_id, value: await v1.encode(a) },
      { key: 'garbage', value: Buffer.from('this is not avro at all') },
      { key: 'unknown-id', value: unknownId },
      { key: b.item_id, value: Buffer.concat([header, v2Type.toBuffer(b)]) },
    ]);

    const lines: string[] = [];
    const decoder = new RecordDecoder({ registryUrl });
    const reader = await startTail({
      kafka,
      decoder,
      topics: [raw],
      fromBeginning: true,
      json: true,
      write: (l) => lines.push(l),
    });
    try {
      await waitFor('4 tailed records', () => lines.length >= 4, 60_000);
    } finally {
      await reader.stop();
    }
    type Doc = {
      key: string;
      partition: number;
      value: { lang?: string };
      undecodable: { reason: string; bytes: number; hexPrefix: string };
    };
    const docs = lines.map((l) => JSON.parse(l) as Doc);
    const byKey = new Map(docs.map((d) => [d.key, d]));
    expect(byKey.get(a.item_id)).toMatchObject({
      schemaId: v1Id,
      record: 'RawHeadline',
      generation: null,
      value: { headline: { title: 'Headline number 1' } },
    });
    expect(byKey.get(a.item_id)?.value.lang).toBeUndefined();
    expect(byKey.get(b.item_id)).toMatchObject({
      schemaId: v2Id,
      record: 'RawHeadline',
      value: { lang: 'en', headline: { title: 'Headline number 2' } },
    });
    expect(byKey.get('garbage')?.undecodable).toMatchObject({
      bytes: 23,
      hexPrefix: Buffer.from('this is not avro').toString('hex'),
    });
    expect(byKey.get('garbage')?.undecodable.reason).toMatch(/magic byte 116/);
    expect(byKey.get('unknown-id')?.undecodable.reason).toMatch(/schema id 2147483632/);
    for (const d of docs)
      expect(d).toMatchObject({
        topic: raw,
        partition: expect.any(Number),
        offset: expect.any(String),
        time: expect.any(String),
      });

    // the human line and --key: only the key's partition is read, only its record printed
    const human: string[] = [];
    const keyed = await startTail({
      kafka,
      decoder,
      topics: [raw],
      fromBeginning: true,
      key: b.item_id,
      write: (l) => human.push(l),
    });
    try {
      await waitFor('the keyed record', () => human.length >= 1, 60_000);
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      await keyed.stop();
    }
    expect(human).toHaveLength(1);
    const part = byKey.get(b.item_id)?.partition;
    expect(human[0]).toMatch(
      new RegExp(
        `^${raw.replace(/\./g, '\\.')}\\[${part}\\]@\\d+  ${b.item_id}  2\\d{3}-.*  g-  RawHeadline "Headline number 2"`,
      ),
    );

    const admin = kafka.admin();
    await admin.connect();
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
    await admin.disconnect();
    expect(groups).not.toContain(reader.groupId);
    expect(groups).not.toContain(keyed.groupId);
  });
});

describe('feedlog item', () => {
  it("finds the item's record in every stage topic of its partition, its dead letter and its row", async () => {
    const s = await testSchema('ops_item');
    try {
      await migrate(s.pool);
      const item = headline(42);
      const other = headline(43);
      const rawSerde = serdeFor('RawHeadline', raw, { prefix, registryUrl, autoRegister: true });
      const clsSerde = serdeFor('ClassifiedHeadline', classified, { prefix, registryUrl, autoRegister: true });
      const dlqSerde = serdeFor('DeadLetter', classifyDlq, { prefix, registryUrl, autoRegister: true });
      const run = { model_name: 'nbsvm', model_version: '1', generation: 3, produced_at: Date.now() };
      await produce(raw, [
        { key: item.item_id, value: await rawSerde.encode(item) },
        { key: other.item_id, value: await rawSerde.encode(other) },
      ]);
      await produce(classified, [
        {
          key: item.item_id,
          value: await clsSerde.encode({ ...item, classification: { category: 'b', confidence: 0.9, run } }),
        },
      ]);
      await produce(classifyDlq, [
        {
          key: item.item_id,
          value: await dlqSerde.encode({
            original_key: Buffer.from(item.item_id),
            original_value: Buffer.from('x'),
            headers: [],
            source_topic: raw,
            source_partition: 0,
            source_offset: 0,
            source_timestamp: null,
            stage: 'classify',
            consumer_group: 'g',
            generation: 3,
            error_class: 'PoisonRecordError',
            error_message: 'title too odd',
            error_stack: null,
            retriable: false,
            attempts: 1,
            item_id: item.item_id,
            job_id: item.job_id,
            failed_at: Date.now(),
          }),
        },
      ]);
      await s.pool.query(
        `INSERT INTO items (item_id, job_id, source, url, title, ingested_at, category) VALUES ($1, $2, $3, $4, $5, now(), 'b')`,
        [item.item_id, item.job_id, item.headline.source, item.headline.url, item.headline.title],
      );

      const j = await itemJourney({
        kafka,
        decoder: new RecordDecoder({ registryUrl }),
        itemId: item.item_id,
        prefix,
        pool: s.pool,
        timeoutMs: 60_000,
      });
      const admin = kafka.admin();
      await admin.connect();
      const expected = await partitionsOfKey(admin, [raw, classified], item.item_id);
      await admin.disconnect();
      expect(j.incomplete).toEqual([]);
      expect(j.records.map((r) => [r.topic, r.partition])).toEqual([
        [raw, expected.get(raw)],
        [classified, expected.get(classified)],
      ]);
      expect(j.records[1]?.decoded).toMatchObject({
        ok: true,
        value: { classification: { category: 'b', run: { generation: 3 } } },
      });
      expect(j.deadLetters).toHaveLength(1);
      expect(j.deadLetters[0]?.decoded).toMatchObject({ ok: true, value: { error_class: 'PoisonRecordError' } });
      expect(j.row).toMatchObject({ item_id: item.item_id, category: 'b' });
      expect(j.partitions[raw]).toBe(expected.get(raw));
    } finally {
      await s.drop();
    }
  });
});

describe('through bin/feedlog', () => {
  const run = promisify(execFile);
  const bin = resolve(import.meta.dirname, '../../../bin/feedlog');

  it('tail --from-beginning --limit --json prints one JSON document per record and exits; item --json finds the item', async () => {
    // the records the tests above wrote: 4 + 2 in raw-headlines
    const tail = await run(process.execPath, [bin, 'tail', raw, '--from-beginning', '--limit', '5', '--json'], {
      timeout: 90_000,
    });
    const docs = tail.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { topic: string; undecodable?: unknown });
    expect(docs).toHaveLength(5);
    for (const d of docs) expect(d.topic).toBe(raw);
    const item = await run(process.execPath, [bin, 'item', headline(42).item_id, '--prefix', prefix, '--json'], {
      timeout: 90_000,
    });
    const j = JSON.parse(item.stdout) as { records: { topic: string }[]; deadLetters: unknown[]; incomplete: string[] };
    expect(j.records.map((r) => r.topic)).toEqual([raw, classified]);
    expect(j.deadLetters).toHaveLength(1);
    expect(j.incomplete).toEqual([]);
    await expect(
      run(process.execPath, [bin, 'tail', `${prefix}no-such-topic`], { timeout: 60_000 }),
    ).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('no such topic'),
    });
  });
});
