// The index stage on the real broker and schema registry: EmbeddedHeadline records produced to
// unique-prefixed topics come out of `indexed`, are found by nearest-neighbour search in the
// embedded index, a re-delivered record adds no point, a retraction removes it, and the generation
// rebuilds from the `embedded` topic. Vectors are synthetic (no embedder needed).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningStage, runStage } from '@feedlog/runtime';
import { type EmbeddedHeadline, type IndexedHeadline, itemId, serdeFor, vectorToBytes } from '@feedlog/schemas';
import { registryUrl as harnessRegistryUrl, testKafka, waitFor } from '@feedlog/test';
import { applyTopics, declareFeedlog } from '@feedlog/topics';
import type { Admin, Consumer, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedIndex } from '../src/embedded.ts';
import { rebuildFromTopic } from '../src/rebuild.ts';
import { indexStage, OP_HEADER, RETRACT } from '../src/stage.ts';
import { clusteredVectors } from '../src/synthetic.ts';
import type { VectorIndex } from '../src/types.ts';

const registryUrl = harnessRegistryUrl();

const prefix = `it-index-${Date.now().toString(36)}${randomBytes(3).toString('hex')}-`;
const dims = 32;
const N = 40;
const serde = { prefix, registryUrl, autoRegister: true };

function record(i: number, vector: Float32Array): EmbeddedHeadline {
  const headline = {
    source: `https://feeds.example.org/${i % 3}.rss`,
    guid: `guid-${prefix}${i}`,
    url: `https://news.example.org/${i}`,
    title: `Synthetic headline number ${i}`,
    summary: null,
    published_at: Date.UTC(2025, 10, 1) + i * 60_000,
    ingested_at: Date.UTC(2025, 10, 21),
  };
  const run = (model_name: string) => ({ model_name, model_version: '1', generation: 1, produced_at: Date.now() });
  return {
    item_id: itemId(headline),
    job_id: 'job-it',
    headline,
    classification: { category: i % 2 ? 'world' : 'sport', confidence: 0.9, run: run('nbsvm') },
    story: { story_id: `story-${i % 5}`, similarity: 1, is_new: true, run: run('online') },
    embedding: { vector: vectorToBytes(vector), dimensions: dims, normalized: true, run: run('synthetic') },
  };
}

describe('index stage on the real broker + registry', () => {
  const kafka = testKafka('feedlog-index-it');
  const dir = mkdtempSync(join(tmpdir(), 'feedlog-index-it-'));
  const index = new EmbeddedIndex({ dir });
  // the stage writes through this wrapper, so a test can take the store down
  let storeDown = false;
  let failedCalls = 0;
  const viaStage: VectorIndex = Object.assign(Object.create(index) as VectorIndex, {
    upsert: async (gen: number, pts: Parameters<VectorIndex['upsert']>[1]) => {
      if (storeDown) {
        failedCalls++;
        throw new Error('vector store unavailable (test outage)');
      }
      return index.upsert(gen, pts);
    },
  });
  const declarations = declareFeedlog({ prefix });
  const embedded = `${prefix}embedded`;
  const indexed = `${prefix}indexed`;
  const embeddedSerde = serdeFor('EmbeddedHeadline', embedded, serde);
  const indexedSerde = serdeFor('IndexedHeadline', indexed, serde);
  const data = clusteredVectors({ n: N, dims, clusters: 4, spread: 0.7, seed: 77 });
  const records = Array.from({ length: N }, (_, i) => record(i, data.vectors.subarray(i * dims, (i + 1) * dims)));
  const outputs: { value: IndexedHeadline; retract: boolean }[] = [];
  let admin: Admin;
  let producer: Producer;
  let consumer: Consumer;
  let running: RunningStage;

  const produce = async (rs: EmbeddedHeadline[], headers?: Record<string, string>) => {
    const messages = [];
    for (const r of rs)
      messages.push({ key: r.item_id, value: await embeddedSerde.encode(r), ...(headers ? { headers } : {}) });
    await producer.send({ topic: embedded, acks: -1, messages });
  };

  beforeAll(async () => {
    admin = kafka.admin();
    await applyTopics({ admin, declarations });
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    consumer = kafka.consumer({ groupId: `${prefix}reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: indexed, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        outputs.push({
          value: await indexedSerde.decode(message.value!),
          retract: message.headers?.[OP_HEADER]?.toString() === RETRACT,
        });
      },
    });
    running = await runStage(indexStage({ index: viaStage, generation: 1, prefix, serde }), { kafka });
    await running.ready();
  });

  afterAll(async () => {
    await running?.stop();
    await consumer?.disconnect();
    await producer?.disconnect();
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
    await admin.disconnect();
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records come out of indexed and are found by nearest-neighbour search', async () => {
    const t0 = Date.now();
    await produce(records);
    await waitFor('every record indexed', () => new Set(outputs.map((o) => o.value.item_id)).size === N, 60_000);
    const first = outputs.find((o) => o.value.item_id === records[3]!.item_id)!.value;
    expect(first.index.collection).toBe('headlines_g1');
    expect(first.index.run.generation).toBe(1);
    expect(first.index.indexed_at).toBeGreaterThanOrEqual(t0);
    expect(first.embedding.dimensions).toBe(dims);
    expect(first.headline.title).toBe('Synthetic headline number 3');
    expect(await index.count(1)).toBe(N);

    // a query near record i (its vector plus noise) finds record i first
    const noise = clusteredVectors({ n: 1, dims, clusters: 1, spread: 1, seed: 5 }).vectors;
    for (const i of [0, 7, 19, 33]) {
      const q = Float32Array.from(data.vectors.subarray(i * dims, (i + 1) * dims), (x, j) => x + 0.05 * noise[j]!);
      const hits = await index.search(1, q, { limit: 3 });
      expect(hits[0]!.itemId).toBe(records[i]!.item_id);
      expect(hits[0]!.payload.title).toBe(`Synthetic headline number ${i}`);
      expect(hits[0]!.payload.story_id).toBe(`story-${i % 5}`);
    }
    const sport = await index.search(1, data.vectors.subarray(0, dims), { limit: 50, filter: { category: 'sport' } });
    expect(sport).toHaveLength(N / 2);
  });

  it('a re-delivered record is indexed again without a second point', async () => {
    const before = outputs.length;
    await produce([records[5]!, records[6]!]);
    await waitFor('the re-deliveries on indexed', () => outputs.length >= before + 2, 60_000);
    expect(outputs.filter((o) => o.value.item_id === records[5]!.item_id)).toHaveLength(2);
    expect(await index.count(1)).toBe(N);
    const hits = await index.search(1, data.vectors.subarray(5 * dims, 6 * dims), { limit: 2 });
    expect(hits[0]!.itemId).toBe(records[5]!.item_id);
    expect(hits[1]!.itemId).not.toBe(records[5]!.item_id);
  });

  it('a store outage opens the breaker: the partition waits, nothing is dead-lettered, it resumes by itself', async () => {
    const extra = clusteredVectors({ n: 5, dims, clusters: 1, spread: 0.7, seed: 99 });
    const more = Array.from({ length: 5 }, (_, j) =>
      record(1000 + j, extra.vectors.subarray(j * dims, (j + 1) * dims)),
    );
    storeDown = true;
    const before = outputs.length;
    await produce(more);
    await waitFor('the stage to hit the outage three times', () => failedCalls >= 3, 30_000);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(outputs.length).toBe(before);
    // with the breaker open, calls stop: only half-open trials reach the store
    const during = failedCalls;
    expect(during).toBeLessThan(10);
    storeDown = false;
    await waitFor('the stage to resume', () => outputs.length >= before + 5, 60_000);
    expect(await index.count(1)).toBe(N + 5);
    const dlqEnds = await admin.fetchTopicOffsets(`${prefix}index.dlq`);
    expect(dlqEnds.reduce((a, p) => a + Number(p.high), 0)).toBe(0);
  });

  it('a retraction deletes the item; the generation rebuilds from the embedded topic', async () => {
    const gone = records[7]!;
    await produce([gone], { [OP_HEADER]: RETRACT });
    await waitFor('the retraction on indexed', () =>
      outputs.some((o) => o.retract && o.value.item_id === gone.item_id),
    );
    expect(await index.count(1)).toBe(N + 5 - 1);
    const hits = await index.search(1, data.vectors.subarray(7 * dims, 8 * dims), { limit: 5 });
    expect(hits.map((h) => h.itemId)).not.toContain(gone.item_id);

    // nothing was dead-lettered
    const dlqEnds = await admin.fetchTopicOffsets(`${prefix}index.dlq`);
    expect(dlqEnds.reduce((a, p) => a + Number(p.high), 0)).toBe(0);

    // the embed stage writes transactionally: end a partition with a commit marker (an offset no
    // consumer sees as a record), which the rebuild must still recognise as the end
    const endOf = async () => (await admin.fetchTopicOffsets(embedded)).reduce((a, p) => a + Number(p.high), 0);
    const endBefore = await endOf();
    const tx = kafka.producer({ transactionalId: `${prefix}tx`, idempotent: true, maxInFlightRequests: 1 });
    await tx.connect();
    const t = await tx.transaction();
    await t.send({
      topic: embedded,
      messages: [{ key: records[8]!.item_id, value: await embeddedSerde.encode(records[8]!) }],
    });
    await t.commit();
    await tx.disconnect();
    // EndTxn returns once the coordinator has logged the commit; the markers reach the partition a
    // moment later. A rebuild reads to the end offsets it sees at its start, so wait for the marker.
    await waitFor('the commit marker on the partition', async () => (await endOf()) >= endBefore + 2, 15_000);

    // rebuild generation 2 from the topic: same live items (retraction applied in log order)
    const r = await rebuildFromTopic({ index, generation: 2, prefix, kafka, serde });
    expect(r.records).toBe(N + 5 + 4);
    expect(r.deleted).toBe(1);
    expect(r.count).toBe(N + 5 - 1);
    const again = await index.search(2, data.vectors.subarray(19 * dims, 20 * dims), { limit: 1 });
    expect(again[0]!.itemId).toBe(records[19]!.item_id);
    await index.flipAlias('headlines', 2);
    expect((await index.search('headlines', data.vectors.subarray(0, dims), { limit: 1 }))[0]!.itemId).toBe(
      records[0]!.item_id,
    );
  });
});
