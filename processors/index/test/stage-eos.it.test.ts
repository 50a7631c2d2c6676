// The index stage's `indexed` output is exactly-once with its input offsets (issue 15: the chaos
// suite found keys 2–4 times in `indexed` after rebalances). The scenario is the one that doubled
// them: an instance is in the middle of a batch (its vector-store write is slow) when a second
// instance joins the group and takes half of its partitions. The newcomer re-reads those
// partitions from the committed offsets and indexes them; then the old owner's write returns and
// it tries to commit the batch it no longer owns. At-least-once, that batch reaches `indexed` a
// second time; exactly-once, the newcomer's producer has fenced the old owner's transaction.
// The serving index holds every item once either way (the store write is an upsert by item id).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningStage, runStage, subscribe } from '@feedlog/runtime';
import { type EmbeddedHeadline, itemId, serdeFor, vectorToBytes } from '@feedlog/schemas';
import { countByKey, registryUrl as harnessRegistryUrl, readCommitted, testKafka, waitFor } from '@feedlog/test';
import { applyTopics, declareFeedlog } from '@feedlog/topics';
import type { Admin, Consumer, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedIndex } from '../src/embedded.ts';
import { indexStage } from '../src/stage.ts';
import { clusteredVectors } from '../src/synthetic.ts';
import type { VectorIndex } from '../src/types.ts';

const prefix = `it-indexeos-${Date.now().toString(36)}${randomBytes(3).toString('hex')}-`;
const serde = { prefix, registryUrl: harnessRegistryUrl(), autoRegister: true };
const dims = 16;
const PARTITIONS = 6; // the declared partitions of `embedded`
const PER_PARTITION = 8;
const N = PARTITIONS * PER_PARTITION;

function record(i: number, vector: Float32Array): EmbeddedHeadline {
  const headline = {
    source: 'https://feeds.example.org/eos.rss',
    guid: `guid-${prefix}${i}`,
    url: `https://news.example.org/eos/${i}`,
    title: `Rebalanced headline ${i}`,
    summary: null,
    published_at: Date.UTC(2025, 10, 1) + i * 60_000,
    ingested_at: Date.UTC(2025, 10, 21),
  };
  const run = (model_name: string) => ({ model_name, model_version: '1', generation: 1, produced_at: Date.now() });
  return {
    item_id: itemId(headline),
    job_id: 'job-eos',
    headline,
    classification: { category: 'world', confidence: 0.9, run: run('nbsvm') },
    story: { story_id: `story-${i % 4}`, similarity: 1, is_new: true, run: run('online') },
    embedding: { vector: vectorToBytes(vector), dimensions: dims, normalized: true, run: run('synthetic') },
  };
}

/** Upserts through this wrapper wait until `release()`; `entered` holds the item ids of waiting calls. */
function gated(index: VectorIndex) {
  let open: () => void = () => {};
  const opened = new Promise<void>((r) => {
    open = r;
  });
  const entered = new Set<string>();
  const store: VectorIndex = Object.assign(Object.create(index) as VectorIndex, {
    upsert: async (gen: number, pts: Parameters<VectorIndex['upsert']>[1]) => {
      for (const p of pts) entered.add(p.itemId);
      await opened;
      return index.upsert(gen, pts);
    },
  });
  return { store, entered, release: () => open() };
}

describe('index stage: `indexed` exactly once across a rebalance mid-batch', () => {
  const kafka = testKafka('feedlog-indexeos-it');
  const dir = mkdtempSync(join(tmpdir(), 'feedlog-indexeos-it-'));
  const index = new EmbeddedIndex({ dir });
  const embedded = `${prefix}embedded`;
  const indexed = `${prefix}indexed`;
  const embeddedSerde = serdeFor('EmbeddedHeadline', embedded, serde);
  const data = clusteredVectors({ n: N, dims, clusters: 4, spread: 0.7, seed: 15 });
  const records = Array.from({ length: N }, (_, i) => record(i, data.vectors.subarray(i * dims, (i + 1) * dims)));
  const partitionOf = new Map(records.map((r, i) => [r.item_id, i % PARTITIONS]));
  // the stage config both instances share: a revoked batch gets time to finish (and try to commit)
  const config = { shutdownTimeoutMs: 60_000, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500, maxWaitTimeMs: 500 };
  const seen = new Map<string, number>();
  let admin: Admin;
  let producer: Producer;
  let watcher: Consumer;
  const running: RunningStage[] = [];

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await applyTopics({ admin, declarations: declareFeedlog({ prefix }) });
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    // what downstream (the materializer) sees: read_committed
    watcher = kafka.consumer({ groupId: `${prefix}watch`, readUncommitted: false, maxWaitTimeInMs: 200 });
    await watcher.connect();
    await watcher.subscribe({ topic: indexed, fromBeginning: true });
    await watcher.run({
      eachMessage: async ({ message }) => {
        const k = message.key?.toString() ?? '';
        seen.set(k, (seen.get(k) ?? 0) + 1);
      },
    });
  });

  afterAll(async () => {
    for (const r of running) await r.stop().catch(() => {});
    await watcher?.disconnect();
    await producer?.disconnect();
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
    await admin.disconnect();
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the old owner of a revoked partition finishes its batch; `indexed` still holds each key once', async () => {
    // failed commits, by partition (both instances publish on this process's channels)
    const refused: { partition: number; error: string }[] = [];
    const unsubscribe = subscribe('error', (e) => {
      if (e.where === 'batch' && e.topic === embedded && e.partition !== undefined)
        refused.push({ partition: e.partition, error: String(e.error) });
    });
    const slow = gated(index);
    const a = await runStage(indexStage({ index: slow.store, generation: 1, prefix, serde, config }), {
      kafka,
      clientId: 'indexeos-a',
    });
    running.push(a);
    await a.ready();

    const messages = [];
    for (const [i, r] of records.entries())
      messages.push({ key: r.item_id, value: await embeddedSerde.encode(r), partition: i % PARTITIONS });
    await producer.send({ topic: embedded, acks: -1, messages });

    // instance A holds a batch of every partition in its (slow) store write
    await waitFor(
      'A to be writing a batch of every partition',
      () => new Set([...slow.entered].map((id) => partitionOf.get(id))).size === PARTITIONS,
      60_000,
    );

    // B joins: the group takes partitions from A while A's batches are in flight
    const b = await runStage(indexStage({ index, generation: 1, prefix, serde, config }), {
      kafka,
      clientId: 'indexeos-b',
    });
    running.push(b);
    await b.ready();
    const moved = await waitFor(
      'B to be assigned partitions',
      () => {
        const ps = b.health().partitions.map((p) => p.partition);
        return ps.length > 0 ? ps : undefined;
      },
      60_000,
    );
    expect(moved.length).toBeLessThan(PARTITIONS);
    const movedIds = records.filter((r) => moved.includes(partitionOf.get(r.item_id)!)).map((r) => r.item_id);
    await waitFor('B to index the partitions it took over', () => movedIds.every((id) => seen.has(id)), 90_000);

    // A's store write returns: it commits what it kept, and tries to commit what it lost
    slow.release();
    const ends = await admin.fetchTopicOffsets(embedded);
    const groupId = a.groupId;
    await waitFor(
      'the group to commit the whole input',
      async () => {
        const [c] = await admin.fetchOffsets({ groupId, topics: [embedded] });
        return ends.every((e) => c?.partitions.find((p) => p.partition === e.partition)?.offset === e.offset);
      },
      90_000,
      250,
    );
    // the old owner's attempt has had its chance: its revoked workers wait for their batch
    await waitFor('every key on indexed', () => records.every((r) => seen.has(r.item_id)), 60_000);
    await new Promise((r) => setTimeout(r, 3_000));

    const out = await readCommitted(kafka, indexed, N, { quietMs: 2_000, timeoutMs: 60_000 });
    const counts = countByKey(out);
    const doubled = [...counts].filter(([, n]) => n > 1);
    expect(doubled.map(([k, n]) => `${k} ×${n} (partition ${partitionOf.get(k)})`)).toEqual([]);
    expect(counts.size).toBe(N);
    expect(out.length).toBe(N);
    // and the serving index holds each item once (the replayed writes were upserts)
    expect(await index.count(1)).toBe(N);
    // the scenario happened: the old owner did try to commit a batch of a partition it had lost,
    // and that transaction was refused (fenced by B's producer for the partition)
    unsubscribe();
    expect(refused.filter((r) => moved.includes(r.partition)).length, JSON.stringify(refused)).toBeGreaterThan(0);
  }, 300_000);
});
