/**
 * The two real clients, unchanged, against this registry, through the real broker:
 * produce with one client's serializer, consume and decode with the other's, both ways.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { AvroDeserializer, AvroSerializer, SchemaRegistryClient, SerdeType } from '@confluentinc/schemaregistry';
import { createKafka, loadConfig } from '@feedlog/common';
import {
  classifyRegistryError,
  decodeWith,
  readFrame,
  UnknownSchemaIdError,
  WrongMagicByteError,
  writeFrame,
} from '@feedlog/schemas';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { FastifyInstance } from 'fastify';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRegistryApp } from '../src/app.ts';
import { databaseUrl, dropPgSchema, uniquePgSchema } from './helpers.ts';

const pgSchema = uniquePgSchema('reg_clients');
let app: FastifyInstance;
let url: string;
let kafka: Kafka;

const headlineSchema = {
  type: 'record',
  name: 'RawHeadline',
  namespace: 'feedlog.it',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'source', type: 'string' },
    { name: 'title', type: 'string' },
    { name: 'url', type: ['null', 'string'], default: null },
    { name: 'published_at', type: 'long' },
    { name: 'tags', type: { type: 'array', items: 'string' }, default: [] },
  ],
};
const records = Array.from({ length: 12 }, (_, i) => ({
  id: `item-${i}`,
  source: i % 2 ? 'bbc' : 'reuters',
  title: `Headline number ${i} — ünïcode ok`,
  url: i % 3 ? `https://example.org/${i}` : null,
  published_at: 1_700_000_000_000 + i,
  tags: i % 4 ? ['world', `t${i}`] : [],
}));

const topicName = (p: string) => `test.registry.${p}.${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

async function createTopic(topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

async function produce(topic: string, values: Buffer[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: values.map((value, i) => ({ key: String(i), value })) });
  } finally {
    await producer.disconnect();
  }
}

async function consume(topic: string, count: number): Promise<Buffer[]> {
  const consumer = kafka.consumer({ groupId: `${topic}.g` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: Buffer[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${out.length}/${count} messages from ${topic}`)), 60_000);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            if (message.value) out.push(message.value);
            if (out.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

beforeAll(async () => {
  app = await buildRegistryApp({ databaseUrl: databaseUrl(), pgSchema });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  kafka = createKafka(loadConfig(), { clientId: 'registry-it' });
});

afterAll(async () => {
  await app?.close();
  await dropPgSchema(pgSchema);
});

describe('real clients through the real broker', () => {
  it('@confluentinc serializer → Kafka → @kafkajs decode', async () => {
    const topic = topicName('c2k');
    const subject = `${topic}-value`;
    await createTopic(topic);
    const confluent = new SchemaRegistryClient({ baseURLs: [url] });
    const id = await confluent.register(subject, { schemaType: 'AVRO', schema: JSON.stringify(headlineSchema) });
    const serializer = new AvroSerializer(confluent, SerdeType.VALUE, { useLatestVersion: true });
    const frames = await Promise.all(records.map((r) => serializer.serialize(topic, r)));
    for (const f of frames) expect(readFrame(f).schemaId).toBe(id);
    await produce(topic, frames);

    const kjs = new SchemaRegistry({ host: url });
    const got = await consume(topic, records.length);
    const decoded = await Promise.all(got.map((b) => kjs.decode(b)));
    expect(decoded.map((d) => ({ ...d }))).toEqual(records);
    expect(await kjs.getLatestSchemaId(subject)).toBe(id);
    expect(await kjs.getRegistryId(subject, 1)).toBe(id);
  });

  it('@kafkajs register + encode → Kafka → @confluentinc deserializer', async () => {
    const topic = topicName('k2c');
    const subject = `${topic}-value`;
    await createTopic(topic);
    const kjs = new SchemaRegistry({ host: url });
    const { id } = await kjs.register({ type: SchemaType.AVRO, schema: JSON.stringify(headlineSchema) }, { subject });
    // kafkajs set the subject's compatibility after its first registration, as against Confluent
    expect((await app.inject({ url: `/config/${subject}` })).json()).toEqual({ compatibilityLevel: 'BACKWARD' });
    // registering again (a second producer starting) gives the same id
    expect(
      (await kjs.register({ type: SchemaType.AVRO, schema: JSON.stringify(headlineSchema) }, { subject })).id,
    ).toBe(id);
    const frames = await Promise.all(records.map((r) => kjs.encode(id, r)));
    await produce(topic, frames);

    const confluent = new SchemaRegistryClient({ baseURLs: [url] });
    const deserializer = new AvroDeserializer(confluent, SerdeType.VALUE, {});
    const got = await consume(topic, records.length);
    const decoded = await Promise.all(got.map((b) => deserializer.deserialize(topic, b)));
    expect(decoded.map((d) => ({ ...(d as object) }))).toEqual(records);
    expect(await confluent.getLatestSchemaMetadata(subject)).toMatchObject({ id, version: 1, subject });
    expect(await confluent.getId(subject, { schemaType: 'AVRO', schema: JSON.stringify(headlineSchema) })).toBe(id);
  });

  it('@confluentinc auto-registration (schema derived from the message) is read by @kafkajs', async () => {
    const topic = topicName('auto');
    await createTopic(topic);
    const confluent = new SchemaRegistryClient({ baseURLs: [url] });
    const serializer = new AvroSerializer(confluent, SerdeType.VALUE, { autoRegisterSchemas: true });
    const msg = { name: 'x', count: 3 };
    const frame = await serializer.serialize(topic, msg);
    await produce(topic, [frame]);
    const [got] = await consume(topic, 1);
    const kjs = new SchemaRegistry({ host: url });
    expect({ ...(await kjs.decode(got as Buffer)) }).toEqual(msg);
    expect(await kjs.getLatestSchemaId(`${topic}-value`)).toBe(readFrame(frame).schemaId);
  });

  it('an incompatible schema is refused to both clients with the reason', async () => {
    const subject = `${topicName('incompat')}-value`;
    const kjs = new SchemaRegistry({ host: url });
    await kjs.register({ type: SchemaType.AVRO, schema: JSON.stringify(headlineSchema) }, { subject });
    const broken = { ...headlineSchema, fields: [...headlineSchema.fields, { name: 'category', type: 'string' }] };
    await expect(
      kjs.register({ type: SchemaType.AVRO, schema: JSON.stringify(broken) }, { subject }),
    ).rejects.toMatchObject({ status: 409, message: expect.stringContaining("'category'") });
    const confluent = new SchemaRegistryClient({ baseURLs: [url] });
    await expect(
      confluent.register(subject, { schemaType: 'AVRO', schema: JSON.stringify(broken) }),
    ).rejects.toMatchObject({ status: 409, errorCode: 409 });
    await expect(confluent.register(subject, { schemaType: 'AVRO', schema: '{"type":' })).rejects.toMatchObject({
      status: 422,
      errorCode: 42201,
    });
  });

  it('wrong magic byte and unknown schema id, read from the broker, become typed decode errors', async () => {
    const topic = topicName('bad');
    await createTopic(topic);
    const kjs = new SchemaRegistry({ host: url });
    const subject = `${topic}-value`;
    const { id } = await kjs.register({ type: SchemaType.AVRO, schema: JSON.stringify(headlineSchema) }, { subject });
    const good = await kjs.encode(id, records[0]);
    const unknownId = 2_000_000_000;
    const unknown = writeFrame(unknownId, good.subarray(5));
    await produce(topic, [Buffer.from(JSON.stringify(records[0])), unknown, good]);
    const [json, unk, ok] = await consume(topic, 3);

    const fetchType = (schemaId: number) => kjs.getSchema(schemaId);
    await expect(decodeWith(json as Buffer, fetchType)).rejects.toMatchObject({
      name: 'WrongMagicByteError',
      code: 'FEEDLOG_WIRE_BAD_MAGIC_BYTE',
      retriable: false,
    });
    const err = await decodeWith(unk as Buffer, fetchType).catch((e) => e);
    expect(err).toBeInstanceOf(UnknownSchemaIdError);
    expect(err).toMatchObject({ schemaId: unknownId, retriable: false });
    expect({ ...(await decodeWith(ok as Buffer, fetchType)).value }).toEqual(records[0]);

    // the same through @confluentinc's deserializer: its RestError carries our 40403
    const deserializer = new AvroDeserializer(new SchemaRegistryClient({ baseURLs: [url] }), SerdeType.VALUE, {});
    const restErr = await deserializer.deserialize(topic, unk as Buffer).catch((e) => e);
    expect(restErr).toMatchObject({ status: 404, errorCode: 40403 });
    expect(classifyRegistryError(restErr, unknownId)).toBeInstanceOf(UnknownSchemaIdError);
    expect(() => readFrame(json as Buffer)).toThrow(WrongMagicByteError);
  });
});
