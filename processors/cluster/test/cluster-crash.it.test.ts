import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
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
import { openEmbedder, semanticStageOptions } from '../src/embedder.ts';
import { runClusterStage } from '../src/run-cluster.ts';
import { semanticFromEnv } from '../src/semantic.ts';
import { clusterStage } from '../src/stage.ts';

// sized so the input outlasts the kills: the stage clears ~1–2k records per 250 ms once running
const TOTAL = Number(process.env.CLUSTER_CRASH_RECORDS ?? 20_000);
const KILLS = Number(process.env.CLUSTER_CRASH_KILLS ?? 12);
const main = resolve(import.meta.dirname, '../src/main.ts');

interface Proc {
  child: ChildProcess;
  batches: number;
  ready: Promise<void>;
  /** the first committed batch (the instance holds the partitions and has restored) */
  firstBatch: Promise<void>;
  exited: Promise<void>;
  stderr: string[];
}

function spawnCluster(prefix: string): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    env: {
      ...process.env,
      FEEDLOG_TOPIC_PREFIX: prefix,
      STAGE_GENERATION: '1',
      STAGE_MAX_RECORDS: '300',
      STAGE_LINGER_MS: '10',
      STAGE_SESSION_TIMEOUT_MS: '6000',
      LOG_BATCHES: '1',
      METRICS_PORT: '',
      STAGE_HEALTH_PORT: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p: Proc = {
    child,
    batches: 0,
    ready: Promise.resolve(),
    firstBatch: Promise.resolve(),
    exited: Promise.resolve(),
    stderr: [],
  };
  let first: () => void = () => {};
  p.firstBatch = new Promise((r) => {
    first = r;
  });
  p.ready = new Promise((res) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        const e = JSON.parse(line) as { event: string };
        if (e.event === 'ready') res();
        if (e.event === 'batch' && ++p.batches === 1) first();
      } catch {}
    });
  });
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (l) => {
    p.stderr.push(l);
    if (p.stderr.length > 50) p.stderr.shift();
  });
  p.exited = new Promise((res) => child.on('exit', () => res()));
  return p;
}

// main.ts as shipped: semantic clustering (the default) with the embedder in the loop
describe('cluster stage under SIGKILL', () => {
  const kafka = testKafka('cluster-crash');
  const prefix = uniquePrefix('clcrash');
  afterAll(async () => {
    await deletePrefixedTopics(kafka, prefix);
  });

  it(`killed ${KILLS} times at random points, it writes each of ${TOTAL} outputs once, with the story ids of an uninterrupted replay`, async () => {
    await applyPrefixedTopics(kafka, prefix);
    const t = (base: string) => `${prefix}${base}`;
    const serde = { autoRegister: true, prefix };
    const inSerde = serdeFor('ClassifiedHeadline', t(topicNames.classified), serde);
    const outSerde = serdeFor('ClusteredHeadline', t(topicNames.clustered), serde);
    await Promise.all([outSerde.schemaId(), serdeFor('DeadLetter', t('cluster.dlq'), serde).schemaId()]);
    const records: ClassifiedHeadline[] = generateHeadlines(TOTAL).map((g) => ({
      ...g.raw,
      classification: {
        category: 'b',
        confidence: 1,
        run: { model_name: 'test', model_version: '1', generation: 1, produced_at: 0 },
      },
    }));
    await produceKeyed(kafka, t(topicNames.classified), records, (r) => inSerde.encode(r), 1_000);

    const kills: { batchesBefore: number }[] = [];
    for (let k = 0; k < KILLS; k++) {
      const p = spawnCluster(prefix);
      // kill during start-up/restore (a quarter of the runs) or while committing batches
      if (k % 4 === 3) await sleep(500 + Math.random() * 3_000);
      else {
        await Promise.race([p.firstBatch, p.exited, sleep(60_000)]);
        // soon after the first commit, so the kill lands while batches are still flowing
        await sleep(Math.random() * 250);
      }
      const batchesBefore = p.batches;
      p.child.kill('SIGKILL');
      await p.exited;
      kills.push({ batchesBefore });
    }

    const last = spawnCluster(prefix);
    try {
      const out = await readCommitted(kafka, t(topicNames.clustered), TOTAL, { timeoutMs: 240_000, quietMs: 2_000 });
      const byKey = countByKey(out);
      const twice = [...byKey].filter(([, c]) => c > 1);
      console.log(
        `cluster crash: ${kills.length} kills (${kills.filter((x) => x.batchesBefore > 0).length} after committed batches), ${out.length} outputs, ${byKey.size} keys`,
      );
      expect(twice).toEqual([]);
      expect(byKey.size).toBe(TOTAL);
      expect(out).toHaveLength(TOTAL);
      expect(kills.filter((x) => x.batchesBefore > 0).length).toBeGreaterThan(KILLS / 3);

      const story1 = new Map<string, string>();
      for (const m of out) {
        const d = await outSerde.decode(m.value as Buffer);
        story1.set(d.item_id, d.story.story_id);
        // 2+… = clustered with the embedder's vectors (the default), 1+… = words only
        expect(d.story.run.model_version).toMatch(semanticFromEnv() ? /^2\+/ : /^1\+/);
      }
      // generation 2 in one go from offset zero: the crashes changed no decision
      // with the options main.ts used: semantic by default (its vectors from the shared cache), words with CLUSTER_SEMANTIC=0
      const embedder = semanticFromEnv() ? await openEmbedder() : undefined;
      const replay = await runClusterStage(
        clusterStage({ prefix, generation: 2, ...(embedder ? semanticStageOptions(embedder.client) : {}) }),
        { kafka },
      );
      const all = await readCommitted(kafka, t(topicNames.clustered), 2 * TOTAL, { timeoutMs: 240_000 });
      await replay.stop();
      await embedder?.close();
      const differing: string[] = [];
      for (const m of all) {
        const d = await outSerde.decode(m.value as Buffer);
        if (d.story.run.generation === 2 && story1.get(d.item_id) !== d.story.story_id) differing.push(d.item_id);
      }
      expect(all.length).toBe(2 * TOTAL);
      expect(differing).toEqual([]);
    } finally {
      last.child.kill('SIGTERM');
      await Promise.race([last.exited, sleep(15_000)]);
      last.child.kill('SIGKILL');
    }
  }, 600_000); // 12 process starts, kills and restores plus a full replay with the embedder in the loop: 332 s at load 20-30
});
