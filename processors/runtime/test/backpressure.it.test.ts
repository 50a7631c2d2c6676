import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { testKafka } from '@feedlog/test';
import { afterAll, describe, expect, it } from 'vitest';
import { createStageClient } from '../src/client/index.ts';
import { bytesCodec, defineStage, runStage, serveHealth, subscribe } from '../src/index.ts';
import { countByKey, createTopics, deleteTopics, readCommitted, type Topics } from './helpers.ts';

// both Kafka clients behind the runtime's seam (FEEDLOG_KAFKA_CLIENT)
describe.each(['kafkajs', 'platformatic'] as const)('backpressure and health on the real broker (%s)', (clientName) => {
  const kafka = testKafka('runtime-backpressure');
  const topicsList: Topics[] = [];
  afterAll(async () => {
    for (const x of topicsList) await deleteTopics(kafka, x);
  });

  // blockMs 0: the partition is paused at once (the loop before issue 14); 1,000 (the default): the
  // kafkajs handler is held while the buffer drains, and pauses only after that long
  it.each([
    ['pauses a partition whose transform is slow, resumes it when drained, and bounds what it buffers', 0],
    ['holds the consumer while a slow partition drains, and bounds what it buffers', 1_000],
  ])(
    '%s',
    async (_title, blockMs) => {
      const t = await createTopics(kafka, `backpressure${blockMs}${clientName}`, 1);
      topicsList.push(t);
      const N = 5_000;
      const value = Buffer.alloc(1_000, 'x');
      const producer = kafka.producer();
      await producer.connect();
      for (let i = 0; i < N; i += 1_000) {
        await producer.send({
          topic: t.input,
          acks: -1,
          messages: Array.from({ length: 1_000 }, (_, j) => ({ key: `k${i + j}`, value })),
        });
      }
      await producer.disconnect();

      const bound = 300;
      const stage = defineStage({
        name: t.stage,
        generation: 1,
        model: { name: 'slow', version: '1' },
        input: { topic: t.input, codec: bytesCodec() },
        output: { topic: t.output, codec: bytesCodec() },
        dlq: { topic: t.dlq },
        config: {
          batch: { maxRecords: 250, lingerMs: 10 },
          buffer: { maxRecords: bound, maxBytes: 64 << 20 },
          backpressureBlockMs: blockMs,
        },
        async transform(batch) {
          await sleep(100); // a slow sink or model
          return batch.map((r) => ({ value: r.value.subarray(0, 10) }));
        },
      });
      const events: boolean[] = [];
      const off = subscribe('backpressure', (e) => {
        if (e.stage === t.stage) events.push(e.paused);
      });
      const running = await runStage(stage, {
        clientId: 'backpressure-test',
        client: await createStageClient(clientName, kafka, 'backpressure-test'),
      });
      const server = await serveHealth(running.health, 0, '127.0.0.1');
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      let maxBuffered = 0;
      let committed = 0;
      const offBatch = subscribe('batch', (b) => {
        if (b.stage === t.stage) committed += b.recordsIn;
      });
      try {
        await running.ready();
        const ready = await fetch(`${url}/readyz`);
        expect(ready.status).toBe(200);
        expect(((await ready.json()) as { groupId: string }).groupId).toBe(stage.groupId);
        const deadline = Date.now() + 60_000;
        while (committed < N && Date.now() < deadline) {
          for (const p of running.health().partitions) maxBuffered = Math.max(maxBuffered, p.buffered);
          await sleep(10);
        }
        expect(committed).toBe(N);
        expect(running.health().partitions.map((p) => [p.nextOffset, p.lag])).toEqual([[N, 0]]);
        const out = await readCommitted(t.output, N, { quietMs: 1_000 });
        expect(countByKey(out).size).toBe(N);
      } finally {
        off();
        offBatch();
        await running.stop();
      }
      const stopped = await fetch(`${url}/readyz`);
      expect(stopped.status).toBe(503);
      server.close();
      console.log(JSON.stringify({ backpressure: { pauses: events.filter(Boolean).length, maxBuffered, bound } }));
      // paused at least once (when told to pause at once) and resumed every time
      if (blockMs === 0) expect(events.filter(Boolean).length).toBeGreaterThan(0);
      expect(events.filter((p) => !p).length).toBe(events.filter(Boolean).length);
      // the buffer goes past the bound by at most the fetch in flight when it paused (1 MB ≈ 1,000 records here)
      expect(maxBuffered).toBeLessThan(bound + 1_100);
      expect(maxBuffered).toBeLessThan(N);
    },
    120_000,
  );
});
