import { type CachedEmbedding, EmbeddingClient, embeddingSettings, MemoryEmbeddingCache } from '@feedlog/embed';
import { type ClassifiedHeadline, serdeFor } from '@feedlog/schemas';
import { topicNames } from '@feedlog/topics';
import { afterAll, describe, expect, it } from 'vitest';
import {
  applyPrefixedTopics,
  deletePrefixedTopics,
  generateHeadlines,
  produceKeyed,
  readCommitted,
  testKafka,
  uniquePrefix,
} from '../../../test/it/pipeline-helpers.ts';
import { readChangelog, runClusterStage } from '../src/run-cluster.ts';
import { clusterStage } from '../src/stage.ts';
import { ClusterState } from '../src/state.ts';

/** counts what the client stores: texts it had to send to the embedder */
class CountingCache extends MemoryEmbeddingCache {
  stored = 0;
  override async putMany(model: string, entries: readonly { text: string; embedding: CachedEmbedding }[]) {
    this.stored += entries.length;
    return super.putMany(model, entries);
  }
}

describe('cluster stage with the embedder in the loop (issue 16)', () => {
  const kafka = testKafka('cluster-semantic');
  const prefix = uniquePrefix('clsem');
  afterAll(async () => {
    await deletePrefixedTopics(kafka, prefix);
  });

  it('stores the semantic state in the changelog: a restart restores it, and a replay reproduces every story id from the cache', async () => {
    const baseUrl = process.env.EMBEDDING_BASE_URL ?? 'http://127.0.0.1:8090/v1';
    const cache = new CountingCache();
    const embedder = new EmbeddingClient(embeddingSettings({ baseUrl, batchSize: 64, concurrency: 2 }), { cache });
    const options = { semanticWeight: 0.7, threshold: 0.3, seedThreshold: 0.4 };
    await applyPrefixedTopics(kafka, prefix);
    const t = (base: string) => `${prefix}${base}`;
    const serde = { autoRegister: true, prefix };
    const inSerde = serdeFor('ClassifiedHeadline', t(topicNames.classified), serde);
    const outSerde = serdeFor('ClusteredHeadline', t(topicNames.clustered), serde);
    await Promise.all([outSerde.schemaId(), serdeFor('DeadLetter', t('cluster.dlq'), serde).schemaId()]);

    const n = 300;
    const records: ClassifiedHeadline[] = generateHeadlines(n).map((g) => ({
      ...g.raw,
      classification: {
        category: 'b',
        confidence: 0.9,
        run: { model_name: 'test', model_version: '1', generation: 1, produced_at: 0 },
      },
    }));
    await produceKeyed(kafka, t(topicNames.classified), records.slice(0, n / 2), (r) => inSerde.encode(r), 50);
    const config = { batch: { maxRecords: 50, lingerMs: 10 } };
    const stage = (generation: number) => clusterStage({ prefix, generation, config, options, embedder });

    // generation 1: half the input, stop, restart (restore from the changelog), the other half
    const first = await runClusterStage(stage(1), { kafka, maxIdleMs: 20_000 });
    await readCommitted(kafka, t(topicNames.clustered), n / 2, { timeoutMs: 120_000 });
    await first.stop();
    await produceKeyed(kafka, t(topicNames.classified), records.slice(n / 2), (r) => inSerde.encode(r), 50);
    const second = await runClusterStage(stage(1), { kafka, maxIdleMs: 20_000 });
    await second.ready();
    expect(second.state().stats().items).toBe(n / 2);
    const out1 = await readCommitted(kafka, t(topicNames.clustered), n, { timeoutMs: 120_000 });
    await second.stop();
    expect(out1).toHaveLength(n);
    const story1 = new Map<string, string>();
    for (const m of out1) {
      const d = await outSerde.decode(m.value as Buffer);
      expect(d.story.run.model_version).toMatch(/^2\+.*all-MiniLM/);
      story1.set(d.item_id, d.story.story_id);
    }
    expect(story1.size).toBe(n);
    expect(new Set(story1.values()).size).toBeLessThan(n / 3);
    const sent = cache.stored;
    expect(sent).toBeGreaterThan(0);

    // the changelog carries each story's summed vectors; rebuilt from it alone, lookups agree
    const entries = await readChangelog(kafka, t(topicNames.clusterChangelog), 1);
    expect(entries.some((e) => e.value?.includes('"e":'))).toBe(true);
    const fromLog = ClusterState.restore(entries, options);
    for (const r of records) expect(fromLog.lookup(r.item_id)?.storyId).toBe(story1.get(r.item_id));

    // generation 2: replay from offset zero; the vectors come from the cache, the ids are the same
    const replay = await runClusterStage(stage(2), { kafka, maxIdleMs: 20_000 });
    const all = await readCommitted(kafka, t(topicNames.clustered), 2 * n, { timeoutMs: 120_000 });
    await replay.stop();
    const story2 = new Map<string, string>();
    for (const m of all) {
      const d = await outSerde.decode(m.value as Buffer);
      if (d.story.run.generation === 2) story2.set(d.item_id, d.story.story_id);
    }
    expect(story2.size).toBe(n);
    expect([...story1].filter(([id, s]) => story2.get(id) !== s)).toEqual([]);
    expect(cache.stored).toBe(sent);
  }, 240_000);
});
