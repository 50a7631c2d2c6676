// The embed stage on the real broker + schema registry against a real local embedder process
// (processors/embedder/src/main.ts, all-MiniLM-L6-v2-int8 from the model cache):
//  (a) clustered → embedded through `processors/embed/src/main.ts` run as its own process: every
//      record exactly once, 384 float32 values of unit norm, the model and generation on each, and
//      the same vector the embedder gives for the same text directly;
//  (b) the embedder is SIGKILLed mid-run and restarted a few seconds later: the breaker opens, the
//      stage holds still, nothing reaches embed.dlq, and it finishes by itself once the embedder is back.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '@feedlog/common';
import { embeddingSettings, embeddingText, embedStage } from '@feedlog/embed';
import { freePort, LocalEmbedder } from '@feedlog/embed/embedder-process';
import { runStage, subscribe } from '@feedlog/runtime';
import { bytesToVector, type ClusteredHeadline, serdeFor } from '@feedlog/schemas';
import {
  applyPrefixedTopics,
  countByKey,
  deletePrefixedTopics,
  registryUrl as harnessRegistryUrl,
  readCommitted,
  testKafka,
  uniquePrefix,
  waitFor,
} from '@feedlog/test';
import { topicNames } from '@feedlog/topics';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateHeadlines } from './pipeline-helpers.ts';

const MODEL = 'all-MiniLM-L6-v2-int8';
const registryUrl = harnessRegistryUrl();

/** `n` ClusteredHeadline records (generated headlines, some with a summary), as the cluster stage would write them. */
function clusteredRecords(n: number): ClusteredHeadline[] {
  const run = (model_name: string) => ({ model_name, model_version: '1', generation: 1, produced_at: Date.now() });
  return generateHeadlines(n).map((g, i) => ({
    ...g.raw,
    headline: { ...g.raw.headline, summary: i % 3 === 0 ? `Report ${i} on ${g.event}, with more detail.` : null },
    classification: { category: 'business', confidence: 0.8, run: run('nbsvm') },
    story: { story_id: `s-${i % 40}`, similarity: 1, is_new: i < 40, run: run('online-centroid') },
  }));
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

async function setupTopics(prefix: string, kafka: ReturnType<typeof testKafka>, records: ClusteredHeadline[]) {
  await applyPrefixedTopics(kafka, prefix);
  const t = (base: string) => `${prefix}${base}`;
  const serde = { autoRegister: true, prefix, registryUrl };
  const clustered = serdeFor('ClusteredHeadline', t(topicNames.clustered), serde);
  const embedded = serdeFor('EmbeddedHeadline', t(topicNames.embedded), serde);
  const dlq = serdeFor('DeadLetter', t('embed.dlq'), serde);
  await Promise.all([embedded.schemaId(), dlq.schemaId()]);
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const messages = await Promise.all(
    records.map(async (r, i) => ({ key: r.item_id, value: await clustered.encode(r), partition: i % 6 })),
  );
  for (let i = 0; i < messages.length; i += 500)
    await producer.send({ topic: t(topicNames.clustered), acks: -1, messages: messages.slice(i, i + 500) });
  await producer.disconnect();
  return { t, embedded, dlq };
}

describe('embed stage on the real broker, registry and local embedder', () => {
  const kafka = testKafka('embed-it');
  const prefixes: string[] = [];
  let embedder: LocalEmbedder;

  beforeAll(async () => {
    embedder = await LocalEmbedder.start({ models: [MODEL], log: (l) => process.stderr.write(`[embedder] ${l}\n`) });
  });
  afterAll(async () => {
    await embedder?.stop();
    for (const p of prefixes) await deletePrefixedTopics(kafka, p);
  });

  it('(a) main.ts embeds every clustered record exactly once: 384 unit-norm floats, model and generation, same vector as a direct call, embedding_tokens_total = the endpoint count', async () => {
    const prefix = uniquePrefix('embed-a');
    prefixes.push(prefix);
    const records = clusteredRecords(600);
    const { t, embedded } = await setupTopics(prefix, kafka, records);

    const root = repoRoot();
    const metricsPort = await freePort();
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', join(root, 'processors/embed/src/main.ts')],
      {
        cwd: root,
        env: {
          ...process.env,
          FEEDLOG_TOPIC_PREFIX: prefix,
          STAGE_GENERATION: '3',
          EMBEDDING_BASE_URL: embedder.baseUrl,
          EMBEDDING_MODEL: MODEL,
          EMBEDDING_API_KEY: 'sk-test-secret-never-logged',
          EMBED_BATCH_SIZE: '32',
          EMBED_CONCURRENCY: '4',
          METRICS_PORT: String(metricsPort),
          // the token count below is the endpoint's for every text: no answers from a shared cache
          EMBED_CACHE: 'off',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    try {
      const msgs = await readCommitted(kafka, t(topicNames.embedded), records.length, { timeoutMs: 150_000 });
      const byKey = countByKey(msgs);
      expect(msgs).toHaveLength(records.length);
      for (const r of records) expect(byKey.get(r.item_id), r.item_id).toBe(1);

      const byId = new Map(records.map((r) => [r.item_id, r]));
      const decoded = await Promise.all(msgs.map((m) => embedded.decode(m.value as Buffer)));
      for (const d of decoded) {
        const src = byId.get(d.item_id) as ClusteredHeadline;
        expect(d.headline).toEqual(src.headline);
        expect(d.story).toEqual(src.story);
        expect(d.embedding.dimensions).toBe(384);
        expect(d.embedding.normalized).toBe(true);
        expect(d.embedding.run).toMatchObject({ model_name: MODEL, model_version: MODEL, generation: 3 });
        const v = bytesToVector(d.embedding.vector, d.embedding.dimensions);
        let norm = 0;
        for (const x of v) norm += x * x;
        expect(Math.sqrt(norm)).toBeCloseTo(1, 4);
      }
      // the stage's vector is the embedder's vector for the same deterministic text
      const sample = decoded.slice(0, 20);
      const direct = new OpenAI({ baseURL: embedder.baseUrl, apiKey: 'x' });
      const same = await direct.embeddings.create({
        model: MODEL,
        input: sample.map((d) => embeddingText(d.headline)),
      });
      for (const [i, d] of sample.entries()) {
        const a = bytesToVector(d.embedding.vector);
        const b = same.data[i]?.embedding as number[];
        let dot = 0;
        for (let j = 0; j < a.length; j++) dot += (a[j] as number) * (b[j] as number);
        expect(dot).toBeGreaterThan(0.9999);
      }
      // nothing dead-lettered; the API key never reached the log
      expect(await readCommitted(kafka, t('embed.dlq'), 0, { quietMs: 500 })).toHaveLength(0);
      expect(out).toContain('"event":"ready"');
      expect(out).not.toContain('sk-test-secret');

      // embedding_tokens_total{model} on /metrics = the endpoint's own count for the same texts (+ the start-up probe)
      const want = await Promise.all(
        [
          ['feedlog'],
          ...chunks(
            records.map((r) => embeddingText(r.headline)),
            64,
          ),
        ].map(async (input) => {
          const r = await direct.embeddings.create({ model: MODEL, input });
          return r.usage.prompt_tokens;
        }),
      );
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const line = metrics
        .split('\n')
        .find((l) => l.startsWith('embedding_tokens_total{') && l.includes(`model="${MODEL}"`));
      expect(line, metrics.slice(0, 2_000)).toBeDefined();
      expect(Number(line?.split(' ').pop())).toBe(want.reduce((a, b) => a + b, 0));
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000).then(() => child.kill('SIGKILL'))]);
    }
  });

  it('(b) embedder SIGKILLed mid-run and restarted: every record exactly once, DLQ empty, the stage resumes by itself', async () => {
    const prefix = uniquePrefix('embed-b');
    prefixes.push(prefix);
    const N = 3_000;
    const records = clusteredRecords(N);
    const { t } = await setupTopics(prefix, kafka, records);
    const stage = embedStage({
      settings: embeddingSettings({ baseUrl: embedder.baseUrl, model: MODEL, batchSize: 32, concurrency: 4 }),
      prefix,
      serde: { registryUrl },
    });
    let committed = 0;
    let dead = 0;
    const breakerStates: { state: string; at: number }[] = [];
    const offs = [
      subscribe('batch', (e) => {
        if (e.stage === stage.name) committed += e.recordsOut;
      }),
      subscribe('dlq', (e) => {
        if (e.stage === stage.name) dead++;
      }),
      subscribe('breaker', (e) => {
        if (e.stage === stage.name) breakerStates.push({ state: e.state, at: Date.now() });
      }),
    ];
    const running = await runStage(stage, { kafka, clientId: 'embed-it-outage' });
    try {
      await waitFor('a quarter of the records embedded', () => committed >= N / 4, 120_000, 20);
      await embedder.kill('SIGKILL');
      const killedAt = Date.now();
      const atKill = committed;
      await waitFor('the breaker to open', () => breakerStates.some((s) => s.state === 'open'), 20_000, 20);
      await sleep(4_000);
      const duringOutage = committed;
      // batches already embedded before the kill may still commit; nothing new is embedded while it is down
      await sleep(1_000);
      expect(committed).toBe(duringOutage);
      expect(running.health().breakers.embedder).not.toBe('closed');
      expect(running.health().status).toBe('ready');
      expect(dead).toBe(0);
      console.log(
        `[embed outage] ${atKill} of ${N} embedded at the kill, ${duringOutage} when the embedder came back ` +
          `(${((Date.now() - killedAt) / 1000).toFixed(1)} s down); breaker: ${breakerStates.map((s) => s.state).join(' → ')}`,
      );
      expect(duringOutage).toBeLessThan(N);

      const restartedAt = Date.now();
      await embedder.restart();
      await waitFor('every record embedded', () => committed >= N, 180_000, 50);
      console.log(
        `[embed outage] all ${N} embedded ${((Date.now() - restartedAt) / 1000).toFixed(1)} s after the restart`,
      );

      const msgs = await readCommitted(kafka, t(topicNames.embedded), N, { timeoutMs: 60_000 });
      const byKey = countByKey(msgs);
      expect(msgs).toHaveLength(N);
      expect(byKey.size).toBe(N);
      for (const r of records) expect(byKey.get(r.item_id), r.item_id).toBe(1);
      expect(dead).toBe(0);
      expect(await readCommitted(kafka, t('embed.dlq'), 0, { quietMs: 500 })).toHaveLength(0);
      expect(running.health().breakers.embedder).toBe('closed');
      expect(breakerStates.map((s) => s.state)).toContain('half-open');
    } finally {
      for (const off of offs) off();
      await running.stop();
      if (!embedder.running) await embedder.restart();
    }
  });
});
