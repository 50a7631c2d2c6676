import type { RecordTypes } from '@feedlog/schemas';
import { itemId, vectorToBytes } from '@feedlog/schemas';
import { topicNames } from '@feedlog/topics';

/** A Kafka record of a feedlog topic, before encoding. */
export type FixtureRecord =
  | { topic: string; key: string; record: 'RawHeadline'; value: RecordTypes['RawHeadline'] }
  | { topic: string; key: string; record: 'ClassifiedHeadline'; value: RecordTypes['ClassifiedHeadline'] }
  | { topic: string; key: string; record: 'ClusteredHeadline'; value: RecordTypes['ClusteredHeadline'] }
  | { topic: string; key: string; record: 'EmbeddedHeadline'; value: RecordTypes['EmbeddedHeadline'] }
  | { topic: string; key: string; record: 'IndexedHeadline'; value: RecordTypes['IndexedHeadline'] }
  | { topic: string; key: string; record: 'DeadLetter'; value: RecordTypes['DeadLetter'] }
  | { topic: string; key: string; record: null; value: Buffer };

export interface FixtureOptions {
  items: number;
  jobs?: number;
  prefix?: string;
  /** Every n-th item also gets a generation-2 classification, produced BEFORE its generation-1 one. */
  regenEvery?: number;
  /** Every n-th item fails in cluster (a cluster.dlq record instead of clustered/embedded/indexed). */
  failEvery?: number;
  /** Undecodable records appended to raw-headlines. */
  garbage?: number;
  dims?: number;
}

const T0 = Date.UTC(2026, 10, 21, 8, 0, 0);
const categories = ['business', 'entertainment', 'health', 'science', 'sports', 'technology', 'world'];

/**
 * A deterministic pipeline run: every item through raw → classified → clustered → embedded →
 * indexed, some regenerated (gen 2 before gen 1 in the log), some dead-lettered in cluster, and a
 * few undecodable records. Stories group items 7 by 7.
 */
export function pipelineFixture(o: FixtureOptions): FixtureRecord[] {
  const p = (s: string) => `${o.prefix ?? ''}${s}`;
  const jobs = o.jobs ?? 3;
  const dims = o.dims ?? 16;
  const out: FixtureRecord[] = [];
  const run = (model: string, generation: number, at: number) => ({
    model_name: model,
    model_version: `v${generation}`,
    generation,
    produced_at: at,
  });
  const vector = vectorToBytes(Float32Array.from({ length: dims }, (_, i) => Math.sin(i + 1)));
  for (let i = 0; i < o.items; i++) {
    const at = T0 + i * 1_000;
    const headline = {
      source: `fixture-${i % 5}`,
      guid: `guid-${i}`,
      url: `https://news.example.org/${i}`,
      title: `Headline number ${i} about ${categories[i % categories.length]}`,
      summary: i % 4 === 0 ? null : `Summary of item ${i}.`,
      published_at: i % 6 === 0 ? null : at - 60_000,
      ingested_at: at,
    };
    const item_id = itemId(headline);
    const job_id = `job-${i % jobs}`;
    out.push({ topic: p(topicNames.raw), key: item_id, record: 'RawHeadline', value: { item_id, job_id, headline } });
    const classification = {
      category: categories[i % categories.length]!,
      confidence: 0.5 + (i % 50) / 100,
      run: run('nbsvm', 1, at + 100),
    };
    if (o.regenEvery && i % o.regenEvery === 0) {
      const regen = {
        category: categories[(i + 3) % categories.length]!,
        confidence: 0.99,
        run: run('nbsvm', 2, at + 50), // newer generation, earlier clock: generation wins
      };
      out.push({
        topic: p(topicNames.classified),
        key: item_id,
        record: 'ClassifiedHeadline',
        value: { item_id, job_id: `replay-${job_id}`, headline, classification: regen },
      });
    }
    out.push({
      topic: p(topicNames.classified),
      key: item_id,
      record: 'ClassifiedHeadline',
      value: { item_id, job_id, headline, classification },
    });
    if (o.failEvery && i % o.failEvery === 1) {
      out.push({
        topic: p('cluster.dlq'),
        key: item_id,
        record: 'DeadLetter',
        value: {
          original_key: Buffer.from(item_id),
          original_value: Buffer.from([0, 0, 0, 0, 1, 2]),
          headers: [],
          source_topic: p(topicNames.classified),
          source_partition: 0,
          source_offset: i,
          source_timestamp: at,
          stage: 'cluster',
          consumer_group: 'feedlog.cluster.g1',
          generation: 1,
          error_class: i % 2 ? 'PoisonRecordError' : 'BreakerOpenError',
          error_message: `cannot cluster item ${i}`,
          error_stack: null,
          retriable: i % 2 === 0,
          attempts: i % 2 ? 1 : 5,
          item_id,
          job_id,
          failed_at: at + 200,
        },
      });
      continue;
    }
    const story = {
      story_id: `story-${Math.floor(i / 7)}`,
      similarity: i % 7 === 0 ? 1 : 0.8,
      is_new: i % 7 === 0,
      run: run('online-tfidf', 1, at + 200),
    };
    out.push({
      topic: p(topicNames.clustered),
      key: item_id,
      record: 'ClusteredHeadline',
      value: { item_id, job_id, headline, classification, story },
    });
    const embedRun = run('minilm', 1, at + 300);
    out.push({
      topic: p(topicNames.embedded),
      key: item_id,
      record: 'EmbeddedHeadline',
      value: {
        item_id,
        job_id,
        headline,
        classification,
        story,
        embedding: { vector, dimensions: dims, normalized: false, run: embedRun },
      },
    });
    out.push({
      topic: p(topicNames.indexed),
      key: item_id,
      record: 'IndexedHeadline',
      value: {
        item_id,
        job_id,
        headline,
        classification,
        story,
        embedding: { dimensions: dims, run: embedRun },
        index: { collection: 'headlines_g1', indexed_at: at + 400, run: run('hnsw', 1, at + 400) },
      },
    });
  }
  for (let g = 0; g < (o.garbage ?? 0); g++) {
    // a Confluent header naming a schema id nobody registered, and bytes with a wrong magic byte
    const value = g % 2 ? Buffer.from([0, 0x7f, 0xff, 0xff, 0x00, 1, 2, 3]) : Buffer.from(`not avro ${g}`);
    out.push({ topic: p(topicNames.raw), key: `garbage-${g}`, record: null, value });
  }
  return out;
}
