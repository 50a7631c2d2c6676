import { testKafka, waitFor } from '@feedlog/test';
import type { Message } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { createStageClient } from '../src/client/index.ts';
import {
  confluentJsonCodec,
  type DeadLetter,
  deadLetterJsonCodec,
  defineStage,
  PoisonRecordError,
  parseTraceparent,
  runStage,
  staticSchemaIds,
  subscribe,
  writeFrame,
} from '../src/index.ts';
import { countByKey, createTopics, deleteTopics, readCommitted, type Topics } from './helpers.ts';

// both Kafka clients behind the runtime's seam (FEEDLOG_KAFKA_CLIENT)
describe.each(['kafkajs', 'platformatic'] as const)('poison records on the real broker (%s)', (clientName) => {
  const kafka = testKafka('runtime-poison');
  let topics: Topics | undefined;
  afterAll(async () => {
    if (topics) await deleteTopics(kafka, topics);
  });

  it('sends bad magic bytes, unknown schema ids and rejected records to the DLQ while their neighbours flow', async () => {
    const t = await createTopics(kafka, 'poison', 2);
    topics = t;
    const ids = staticSchemaIds({ [`${t.input}-value`]: 11, [`${t.output}-value`]: 12 });
    type In = { title: string };
    const codec = confluentJsonCodec<In>(ids);
    let closed = 0;
    const stage = defineStage({
      name: t.stage,
      generation: 1,
      model: { name: 'upper', version: '1' },
      input: { topic: t.input, codec },
      output: { topic: t.output, codec: confluentJsonCodec<In>(ids) },
      dlq: { topic: t.dlq },
      config: { batch: { maxRecords: 50, lingerMs: 20 }, sessionTimeoutMs: 6_000 },
      close: () => {
        closed++;
      },
      map(r) {
        if (r.value.title === '') throw new PoisonRecordError('empty title');
        return { title: r.value.title.toUpperCase() };
      },
    });

    const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const good = async (i: number) => ({
      key: `good-${i}`,
      value: await codec.encode({ title: `t${i}` }, `${t.input}-value`),
      headers: { traceparent: parent },
    });
    const bad = [
      { key: 'bad-magic', value: Buffer.from([9, 0, 0, 0, 11, 0x7b, 0x7d]), headers: { origin: 'test' } },
      { key: 'bad-schema-id', value: writeFrame(4242, Buffer.from('{"title":"x"}')) },
      { key: 'bad-title', value: await codec.encode({ title: '' }, `${t.input}-value`) },
    ];
    const messages: Message[] = [];
    for (let i = 0; i < 300; i++) {
      messages.push(await good(i));
      if (i === 100) messages.push(bad[0] as Message);
      if (i === 150) messages.push(bad[1] as Message);
      if (i === 200) messages.push(bad[2] as Message);
    }
    const producer = kafka.producer();
    await producer.connect();
    // all to one partition, so the poison records sit between processed neighbours of the same batch
    await producer.send({ topic: t.input, acks: -1, messages: messages.map((m) => ({ ...m, partition: 0 })) });
    await producer.disconnect();

    const dlqEvents: string[] = [];
    const off = subscribe('dlq', (e) => dlqEvents.push(e.errorClass));
    const running = await runStage(stage, {
      clientId: 'poison-test',
      client: await createStageClient(clientName, kafka, 'poison-test'),
    });
    try {
      await waitFor('three dead letters', () => dlqEvents.length >= 3, 60_000);
      const out = await readCommitted(t.output, 300, { quietMs: 1_000 });
      expect(out).toHaveLength(300);
      expect(countByKey(out).size).toBe(300);
      const first = out.find((m) => m.key?.toString() === 'good-0');
      expect(await codec.decode(first?.value as Buffer)).toEqual({ title: 'T0' });
      const tp = parseTraceparent(first?.headers?.traceparent?.toString());
      expect(tp?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');

      const dlq = await readCommitted(t.dlq, 3, { quietMs: 500 });
      expect(dlq).toHaveLength(3);
      const letters: DeadLetter[] = await Promise.all(dlq.map((m) => deadLetterJsonCodec.decode(m.value as Buffer)));
      const byKey = new Map(letters.map((d) => [d.original_key?.toString(), d]));
      expect(byKey.get('bad-magic')?.error_class).toBe('WrongMagicByteError');
      expect(byKey.get('bad-magic')?.original_value).toEqual(bad[0]?.value);
      expect(byKey.get('bad-magic')?.headers).toEqual([{ key: 'origin', value: Buffer.from('test') }]);
      expect(byKey.get('bad-schema-id')?.error_class).toBe('UnknownSchemaIdError');
      expect(byKey.get('bad-schema-id')?.error_message).toMatch(/4242/);
      expect(byKey.get('bad-title')?.error_class).toBe('PoisonRecordError');
      expect(byKey.get('bad-title')?.error_message).toBe('empty title');
      for (const d of letters) {
        expect(d.source_topic).toBe(t.input);
        expect(d.source_partition).toBe(0);
        expect(d.stage).toBe(t.stage);
        expect(d.attempts).toBe(1);
      }
      // the offsets are where the records were produced: after good-100, good-150 (+1), good-200 (+2)
      expect(letters.map((d) => d.source_offset).sort((a, b) => a - b)).toEqual([101, 152, 203]);
      expect(dlq.map((m) => m.headers?.['feedlog-error-class']?.toString()).sort()).toEqual([
        'PoisonRecordError',
        'UnknownSchemaIdError',
        'WrongMagicByteError',
      ]);
      expect(dlq.map((m) => m.headers?.['feedlog-error-code']?.toString()).sort()).toEqual([
        'FEEDLOG_POISON_RECORD',
        'FEEDLOG_UNKNOWN_SCHEMA_ID',
        'FEEDLOG_WIRE_BAD_MAGIC_BYTE',
      ]);
      // and the stage committed past them: nothing will be re-processed
      const admin = kafka.admin();
      await admin.connect();
      const [c] = await admin.fetchOffsets({ groupId: stage.groupId, topics: [t.input] });
      await admin.disconnect();
      expect(c?.partitions.find((p) => p.partition === 0)?.offset).toBe('303');
      expect(running.health().status).toBe('ready');
    } finally {
      off();
      expect(closed).toBe(0);
      await running.stop();
    }
    expect(running.health().status).toBe('stopped');
    // the stage's own resources (a worker pool, say) are released once, when it stops
    expect(closed).toBe(1);
  });
});
