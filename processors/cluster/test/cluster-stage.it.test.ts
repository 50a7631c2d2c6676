import { subscribe } from '@feedlog/runtime';
import { type ClassifiedHeadline, serdeFor } from '@feedlog/schemas';
import { topicNames } from '@feedlog/topics';
import { afterAll, describe, expect, it } from 'vitest';
import {
  applyPrefixedTopics,
  countByKey,
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

describe('cluster stage on the real broker', () => {
  const kafka = testKafka('cluster-stage');
  const prefix = uniquePrefix('cluster');
  afterAll(async () => {
    await deletePrefixedTopics(kafka, prefix);
  });

  it('restores from the changelog after a restart, outputs each item once, and a replay (generation 2) reproduces every story id', async () => {
    await applyPrefixedTopics(kafka, prefix);
    const t = (base: string) => `${prefix}${base}`;
    const serde = { autoRegister: true, prefix };
    const inSerde = serdeFor('ClassifiedHeadline', t(topicNames.classified), serde);
    const outSerde = serdeFor('ClusteredHeadline', t(topicNames.clustered), serde);
    await Promise.all([outSerde.schemaId(), serdeFor('DeadLetter', t('cluster.dlq'), serde).schemaId()]);

    const n = 2_400;
    const cats = ['b', 't', 'e', 'm'];
    const records: ClassifiedHeadline[] = generateHeadlines(n).map((g, i) => ({
      ...g.raw,
      classification: {
        category: cats[i % 4] as string,
        confidence: 0.9,
        run: { model_name: 'test', model_version: '1', generation: 1, produced_at: 0 },
      },
    }));
    await produceKeyed(kafka, t(topicNames.classified), records, (r) => inSerde.encode(r), 400);

    const inByGen = new Map<number, number>();
    const off = subscribe('batch', (e) => {
      if (e.stage === `${prefix}cluster`) inByGen.set(e.generation, (inByGen.get(e.generation) ?? 0) + e.recordsIn);
    });
    const config = { batch: { maxRecords: 100, lingerMs: 10 } };
    try {
      // generation 1: stop after part of the input, start again (restore), finish
      const first = await runClusterStage(clusterStage({ prefix, generation: 1, config }), {
        kafka,
        maxIdleMs: 20_000,
      });
      await first.ready();
      const deadline = Date.now() + 60_000;
      while ((inByGen.get(1) ?? 0) < n / 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await first.stop();
      const doneBefore = inByGen.get(1) ?? 0;
      expect(doneBefore).toBeGreaterThan(0);
      expect(doneBefore).toBeLessThan(n);

      const second = await runClusterStage(clusterStage({ prefix, generation: 1, config }), {
        kafka,
        maxIdleMs: 20_000,
      });
      await second.ready();
      const restored = second.lastRestore();
      expect(restored?.entries).toBeGreaterThan(0);
      // the restored state knows exactly the items committed before the stop
      expect(second.state().stats().items).toBe(doneBefore);

      const out1 = await readCommitted(kafka, t(topicNames.clustered), n, { timeoutMs: 120_000 });
      await second.stop();
      expect(out1).toHaveLength(n);
      const byKey = countByKey(out1);
      expect(byKey.size).toBe(n);
      expect([...byKey.values()].every((c) => c === 1)).toBe(true);
      const story1 = new Map<string, string>();
      for (const m of out1) {
        const d = await outSerde.decode(m.value as Buffer);
        expect(d.story.run.generation).toBe(1);
        story1.set(d.item_id, d.story.story_id);
      }
      expect(new Set(story1.values()).size).toBeLessThan(n / 4);

      // the changelog holds the same state the stage had: restoring it decides identically
      const entries = await readChangelog(kafka, t(topicNames.clusterChangelog), 1);
      const fromLog = ClusterState.restore(entries);
      expect(fromLog.stats().items).toBe(n);
      for (const r of records.slice(0, 50)) expect(fromLog.lookup(r.item_id)?.storyId).toBe(story1.get(r.item_id));

      // generation 2: a replay from offset zero with fresh state, one uninterrupted run
      const replay = await runClusterStage(clusterStage({ prefix, generation: 2, config }), {
        kafka,
        maxIdleMs: 20_000,
      });
      const all = await readCommitted(kafka, t(topicNames.clustered), 2 * n, { timeoutMs: 120_000 });
      await replay.stop();
      const story2 = new Map<string, string>();
      for (const m of all) {
        const d = await outSerde.decode(m.value as Buffer);
        if (d.story.run.generation === 2) {
          expect(story2.has(d.item_id)).toBe(false);
          story2.set(d.item_id, d.story.story_id);
        }
      }
      expect(story2.size).toBe(n);
      const differing = [...story1].filter(([id, s]) => story2.get(id) !== s);
      expect(differing).toEqual([]);
    } finally {
      off();
    }
  });
});
