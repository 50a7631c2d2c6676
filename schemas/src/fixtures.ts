import type { RecordTypes } from './generated.ts';
import { itemId } from './ids.ts';
import { vectorToBytes } from './vector.ts';

const run = (model_name: string, generation = 1) => ({
  model_name,
  model_version: '0.1.0',
  generation,
  produced_at: Date.UTC(2025, 10, 21, 9, 0, 5),
});

/** One valid, hand-written example of every record (tests, docs, demos). */
export function sampleRecords(): RecordTypes {
  const headline = {
    source: 'https://feeds.example.org/world.rss',
    guid: 'urn:example:2025-11-21:rates',
    url: 'https://news.example.org/world/central-bank-holds-rates',
    title: 'Central bank holds rates steady as inflation cools',
    summary: 'Policy makers kept the benchmark rate unchanged for a third meeting.',
    published_at: Date.UTC(2025, 10, 21, 8, 30),
    ingested_at: Date.UTC(2025, 10, 21, 9, 0),
  };
  const item_id = itemId(headline);
  const job_id = 'job-0001';
  const classification = { category: 'business', confidence: 0.91, run: run('tfidf-logreg') };
  const story = { story_id: 'story-000042', similarity: 0.78, is_new: false, run: run('online-tfidf') };
  const vector = Float32Array.from({ length: 8 }, (_, i) => (i % 2 ? -1 : 1) / Math.sqrt(8));
  return {
    RawHeadline: { item_id, job_id, headline },
    ClassifiedHeadline: { item_id, job_id, headline, classification },
    ClusteredHeadline: { item_id, job_id, headline, classification, story },
    EmbeddedHeadline: {
      item_id,
      job_id,
      headline,
      classification,
      story,
      embedding: { vector: vectorToBytes(vector), dimensions: 8, normalized: true, run: run('hash-embed') },
    },
    IndexedHeadline: {
      item_id,
      job_id,
      headline,
      classification,
      story,
      embedding: { dimensions: 8, run: run('hash-embed') },
      index: { collection: 'headlines_g1', indexed_at: Date.UTC(2025, 10, 21, 9, 0, 7), run: run('embedded-hnsw') },
    },
    DeadLetter: {
      original_key: Buffer.from(item_id),
      original_value: Buffer.from([1, 2, 3]),
      headers: [{ key: 'traceparent', value: Buffer.from('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01') }],
      source_topic: 'raw-headlines',
      source_partition: 3,
      source_offset: 1234,
      source_timestamp: Date.UTC(2025, 10, 21, 9, 0),
      stage: 'classify',
      consumer_group: 'feedlog.classify.g1',
      generation: 1,
      error_class: 'WrongMagicByteError',
      error_message: 'message on raw-headlines starts with byte 1, expected the Confluent magic byte 0',
      error_stack: null,
      retriable: false,
      attempts: 1,
      item_id: null,
      job_id: null,
      failed_at: Date.UTC(2025, 10, 21, 9, 0, 1),
    },
  };
}
