// End to end on the real broker + registry + a local embedder process:
// raw-headlines → classify → cluster → embed → index (embedded vector index) → indexed, then a
// nearest-neighbour query for a paraphrase of a headline (the paraphrase embedded by the same
// embedder, same model) finds that headline among the first results.
// Headlines: processors/embed/fixtures/paraphrases.json (hand-written pairs) among local-news filler.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyStage, loadClassifyModel } from '@feedlog/classify/stage';
import { runClusterStage } from '@feedlog/cluster/run-cluster';
import { clusterStage } from '@feedlog/cluster/stage';
import { repoRoot } from '@feedlog/common';
import { embeddingSettings, embedStage } from '@feedlog/embed';
import { LocalEmbedder } from '@feedlog/embed/embedder-process';
import { EmbeddedIndex } from '@feedlog/index';
import { indexStage } from '@feedlog/index/stage';
import { groupIdFor, runStage, subscribe } from '@feedlog/runtime';
import { itemId, type RawHeadline, serdeFor } from '@feedlog/schemas';
import {
  applyPrefixedTopics,
  countByKey,
  deletePrefixedTopics,
  registryUrl as harnessRegistryUrl,
  readCommitted,
  testKafka,
  uniquePrefix,
} from '@feedlog/test';
import { topicNames } from '@feedlog/topics';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';

const MODEL = 'all-MiniLM-L6-v2-int8';
const registryUrl = harnessRegistryUrl();

interface Pair {
  title: string;
  summary: string | null;
  paraphrase: string;
}
const pairs = (
  JSON.parse(readFileSync(join(repoRoot(), 'processors/embed/fixtures/paraphrases.json'), 'utf8')) as {
    pairs: Pair[];
  }
).pairs;

/**
 * `n` deterministic headlines on everyday local topics (sport results, weather, roadworks, schools,
 * markets, culture) that none of the pairs is about, so a paraphrase's nearest neighbour is its own
 * headline unless a vector went to the wrong item or the pipeline changed the text.
 */
function fillerHeadlines(n: number, t0: number): RawHeadline[] {
  const towns = ['Ashford', 'Brixham', 'Corby', 'Dunmore', 'Elgin', 'Frome', 'Girvan', 'Hexham', 'Ilkley', 'Jarrow'];
  const teams = ['Rovers', 'United', 'Athletic', 'Wanderers', 'Town', 'City', 'Albion', 'Rangers'];
  const days = ['Monday', 'Tuesday', 'Friday'];
  const nth = ['first', 'second', 'third'];
  const templates: ((town: string, team: string, i: number) => string)[] = [
    (a, b, i) => `${a} ${b} beat ${a === 'Corby' ? 'Elgin' : 'Corby'} ${(i % 4) + 1}-${i % 3} in league match`,
    (a, _b, i) => `Roadworks close ${a} high street for ${(i % 5) + 2} weeks`,
    (a, _b, i) => `${a} primary school celebrates ${(i % 90) + 10} years`,
    (a) => `Farmers market returns to ${a} square this weekend`,
    (a, _b, i) => `Heavy rain expected in ${a} on ${days[i % 3]}`,
    (a) => `${a} library extends opening hours`,
    (a, b) => `${a} ${b} appoint new youth coach`,
    (a, _b, i) => `Brass band concert raises ${(i % 9) + 1},000 pounds for ${a} hospice`,
    (a) => `New cycle lane opens between ${a} station and the harbour`,
    (a, _b, i) => `${a} bakery wins regional bread award for the ${nth[i % 3]} time`,
  ];
  return Array.from({ length: n }, (_, i) => {
    const town = towns[i % towns.length] as string;
    const team = teams[Math.floor(i / towns.length) % teams.length] as string;
    const title = templates[Math.floor(i / 3) % templates.length]!(town, team, i);
    const url = `https://local.example/${i}`;
    const at = t0 + i * 30_000;
    return {
      item_id: itemId({ source: 'Local Gazette', guid: null, url }),
      job_id: 'job-e2e-embed',
      headline: {
        source: 'Local Gazette',
        guid: null,
        url,
        title,
        summary: null,
        published_at: at,
        ingested_at: at + 1_000,
      },
    };
  });
}

describe('raw-headlines → classify → cluster → embed → index, then search by paraphrase', () => {
  const kafka = testKafka('embed-e2e');
  const prefix = uniquePrefix('embed-e2e');
  const dir = mkdtempSync(join(tmpdir(), 'feedlog-embed-e2e-'));
  afterAll(async () => {
    await deletePrefixedTopics(kafka, prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('every headline comes out of `indexed` once, and a paraphrase query finds its headline', async () => {
    await applyPrefixedTopics(kafka, prefix);
    const t = (base: string) => `${prefix}${base}`;
    const serde = { autoRegister: true, prefix, registryUrl };
    const rawSerde = serdeFor('RawHeadline', t(topicNames.raw), serde);
    await Promise.all([
      serdeFor('ClassifiedHeadline', t(topicNames.classified), serde).schemaId(),
      serdeFor('ClusteredHeadline', t(topicNames.clustered), serde).schemaId(),
      serdeFor('EmbeddedHeadline', t(topicNames.embedded), serde).schemaId(),
      serdeFor('IndexedHeadline', t(topicNames.indexed), serde).schemaId(),
      ...['classify', 'cluster', 'embed', 'index'].map((s) => serdeFor('DeadLetter', t(`${s}.dlq`), serde).schemaId()),
    ]);

    // the pairs' headlines among filler about other things, in event-time order
    const t0 = Date.UTC(2014, 2, 10);
    const filler = fillerHeadlines(300, t0);
    const fixtures: RawHeadline[] = pairs.map((p, i) => {
      const url = `https://news.example/fixture/${i}`;
      return {
        item_id: itemId({ source: 'Fixture Wire', guid: null, url }),
        job_id: 'job-e2e-embed',
        headline: {
          source: 'Fixture Wire',
          guid: null,
          url,
          title: p.title,
          summary: p.summary,
          published_at: t0 + i * 400_000 + 15_000,
          ingested_at: t0 + i * 400_000 + 16_000,
        },
      };
    });
    const raws = [...filler, ...fixtures].sort(
      (a, b) => (a.headline.published_at ?? 0) - (b.headline.published_at ?? 0),
    );
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic: t(topicNames.raw),
      acks: -1,
      messages: await Promise.all(raws.map(async (r) => ({ key: r.item_id, value: await rawSerde.encode(r) }))),
    });
    await producer.disconnect();

    const embedder = await LocalEmbedder.start({ models: [MODEL] });
    const index = new EmbeddedIndex({ dir });
    let dead = 0;
    const offDlq = subscribe('dlq', (e) => {
      if (e.stage.startsWith(prefix.replace(/[^a-z0-9_.-]/gi, '-').replace(/^[^a-z]+/i, ''))) dead++;
    });
    const classify = await runStage(
      classifyStage({ model: loadClassifyModel(undefined), prefix, serde: { autoRegister: false, registryUrl } }),
      { kafka, clientId: 'e2e-embed-classify' },
    );
    const cluster = await runClusterStage(clusterStage({ prefix, serde: { registryUrl } }), {
      kafka,
      clientId: 'e2e-embed-cluster',
      maxIdleMs: 5_000,
    });
    const embed = await runStage(
      embedStage({
        settings: embeddingSettings({ baseUrl: embedder.baseUrl, model: MODEL }),
        prefix,
        serde: { registryUrl },
      }),
      { kafka, clientId: 'e2e-embed-embed' },
    );
    // the index stage names itself `index` whatever the prefix: give this run a group of its own
    const ix = indexStage({ index, generation: 1, prefix, serde: { registryUrl } });
    const ixName = `${prefix.replace(/[^a-z0-9_.-]/gi, '-').replace(/^[^a-z]+/i, '')}index`;
    const indexer = await runStage(
      { ...ix, name: ixName, groupId: groupIdFor(ixName, 1) },
      {
        kafka,
        clientId: 'e2e-embed-index',
      },
    );
    try {
      const indexed = await readCommitted(kafka, t(topicNames.indexed), raws.length, { timeoutMs: 170_000 });
      const byKey = countByKey(indexed);
      expect(byKey.size).toBe(raws.length);
      for (const r of raws) expect(byKey.get(r.item_id), r.item_id).toBeGreaterThanOrEqual(1);
      expect(await index.count(1)).toBe(raws.length);
      expect(dead).toBe(0);

      // nearest neighbours of each paraphrase, embedded by the same endpoint and model
      const client = new OpenAI({ baseURL: embedder.baseUrl, apiKey: 'unused' });
      const q = await client.embeddings.create({ model: MODEL, input: pairs.map((p) => p.paraphrase) });
      const ranks: number[] = [];
      for (const [i, p] of pairs.entries()) {
        const hits = await index.search(1, q.data[i]?.embedding as number[], { limit: 10 });
        const want = fixtures[i]?.item_id;
        const rank = hits.findIndex((h) => h.itemId === want);
        ranks.push(rank);
        if (rank !== 0)
          console.log(
            `[e2e] "${p.paraphrase}" → "${p.title}" at rank ${rank + 1 || '>10'}; top: "${hits[0]?.payload.title}"`,
          );
        if (rank >= 0) expect(hits[rank]?.payload.title).toBe(p.title);
      }
      const top1 = ranks.filter((r) => r === 0).length / pairs.length;
      const top5 = ranks.filter((r) => r >= 0 && r < 5).length / pairs.length;
      console.log(
        `[e2e] ${pairs.length} paraphrase queries over ${raws.length} indexed headlines: top-1 ${top1.toFixed(2)}, top-5 ${top5.toFixed(2)}`,
      );
      // every headline among the first 10 of 324, nearly all first
      expect(ranks.every((r) => r >= 0)).toBe(true);
      expect(top5).toBeGreaterThanOrEqual(0.9);
      expect(top1).toBeGreaterThanOrEqual(0.8);
    } finally {
      offDlq();
      await Promise.all([classify.stop(), cluster.stop(), embed.stop(), indexer.stop()]);
      await index.close();
      await embedder.stop();
    }
  });
});
