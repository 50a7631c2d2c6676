import { randomUUID } from 'node:crypto';
import { itemId, type RawHeadline } from '@feedlog/schemas';
import { testKafka, uniqueName } from '@feedlog/test';
import { applyTopics, declareFeedlog } from '@feedlog/topics';
import type { Kafka, KafkaMessage } from 'kafkajs';

/** A unique topic prefix for one test run (a valid stage-name prefix too). */
export function uniquePrefix(what: string): string {
  return `${uniqueName(what).replace(/[^a-z0-9.]/gi, '')}.`;
}

/** Create every feedlog topic under `prefix` (topics as code, replication capped to the broker count). */
export async function applyPrefixedTopics(kafka: Kafka, prefix: string): Promise<string[]> {
  const admin = kafka.admin();
  try {
    const r = await applyTopics({ admin, prefix });
    return r.applied.map((a) => a.topic);
  } finally {
    await admin.disconnect();
  }
}

/** Encode records with `encode` and produce them keyed by item id (acks=-1, idempotent), in chunks. */
export async function produceKeyed<T extends { item_id: string }>(
  kafka: Kafka,
  topic: string,
  records: readonly T[],
  encode: (r: T) => Promise<Buffer>,
  chunkSize: number,
): Promise<void> {
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += chunkSize) {
      const chunk = records.slice(i, i + chunkSize);
      await producer.send({
        topic,
        acks: -1,
        messages: await Promise.all(chunk.map(async (r) => ({ key: r.item_id, value: await encode(r) }))),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

export async function deletePrefixedTopics(kafka: Kafka, prefix: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const names = declareFeedlog({ prefix }).topics.map((t) => t.name);
  await admin.deleteTopics({ topics: names }).catch(() => {});
  await admin.disconnect();
}

const subjects = [
  ['Federal Reserve', 'interest rates', 'inflation', 'bank'],
  ['Apple', 'iPhone', 'launch', 'smartphone'],
  ['Microsoft', 'cloud', 'earnings', 'Azure'],
  ['Ebola', 'outbreak', 'West Africa', 'health'],
  ['Malaysia Airlines', 'flight MH370', 'search', 'ocean'],
  ['Tesla', 'electric car', 'battery', 'factory'],
  ['Google', 'Android', 'privacy', 'search engine'],
  ['World Cup', 'Brazil', 'football', 'stadium'],
  ['Oscars', 'Hollywood', 'best picture', 'actor'],
  ['measles', 'vaccine', 'children', 'doctors'],
  ['oil prices', 'OPEC', 'crude', 'barrel'],
  ['Amazon', 'drone delivery', 'retail', 'warehouse'],
  ['Facebook', 'WhatsApp', 'acquisition', 'messaging'],
  ['General Motors', 'recall', 'ignition switch', 'safety'],
  ['Ukraine', 'Crimea', 'sanctions', 'Russia'],
  ['Kim Kardashian', 'Kanye West', 'wedding', 'Paris'],
  ['Netflix', 'streaming', 'subscribers', 'House of Cards'],
  ['heart disease', 'study', 'cholesterol', 'patients'],
  ['Samsung', 'Galaxy', 'display', 'smartwatch'],
  ['Bitcoin', 'Mt Gox', 'exchange', 'bankruptcy'],
] as const;
const qualifiers = ['Cyprus', 'Norway', 'Chile', 'Kenya', 'Quebec', 'Osaka', 'Lisbon', 'Texas', 'Bavaria', 'Seoul'];
const patterns = [
  (a: string, b: string, c: string, q: string) => `${a} ${b} ${q}: ${c} update`,
  (a: string, b: string, c: string, q: string) => `${q} ${a} ${c} as ${b} dominates`,
  (a: string, b: string, c: string, q: string) => `${a} says ${b} ${c} in ${q}`,
  (a: string, b: string, c: string, q: string) => `UPDATE 1-${a} ${q} ${b} and ${c}`,
  (a: string, b: string, c: string, q: string) => `Why ${a} ${q} ${b} matters for ${c}`,
];
const sources = ['Reuters', 'Bloomberg', 'BBC News', 'CNN', 'The Guardian', 'Forbes', 'TechCrunch', 'Variety'];

export interface GeneratedHeadline {
  raw: RawHeadline;
  /** the event the generator wrote it about (a gold story for the test) */
  event: string;
}

/**
 * `n` hand-shaped headlines about `events` news events (subject × place), several publishers and
 * phrasings per event, in event-time order. Deterministic for the same arguments.
 */
export function generateHeadlines(
  n: number,
  jobId = `job-${randomUUID()}`,
  t0 = Date.UTC(2014, 2, 10),
): GeneratedHeadline[] {
  const out: GeneratedHeadline[] = [];
  const events = subjects.length * qualifiers.length;
  for (let i = 0; i < n; i++) {
    const e = (i * 7919) % events;
    const s = subjects[e % subjects.length] as readonly string[];
    const q = qualifiers[Math.floor(e / subjects.length) % qualifiers.length] as string;
    const pattern = patterns[i % patterns.length] as (typeof patterns)[number];
    const title = pattern(s[0] as string, s[1 + (i % 2)] as string, s[3] as string, q);
    const source = sources[i % sources.length] as string;
    const url = `https://news.example/${source.toLowerCase().replace(/\W+/g, '-')}/${i}`;
    out.push({
      event: s[0] as string,
      raw: {
        item_id: itemId({ source, guid: null, url }),
        job_id: jobId,
        headline: {
          source,
          guid: null,
          url,
          title,
          summary: null,
          published_at: t0 + i * 30_000,
          ingested_at: t0 + i * 30_000 + 1_000,
        },
      },
    });
  }
  return out;
}

/** Every committed record of `topic` (read_committed), until `expected` arrived and the topic was quiet for `quietMs`. */
export async function readCommitted(
  kafka: Kafka,
  topic: string,
  expected: number,
  opts: { timeoutMs?: number; quietMs?: number } = {},
): Promise<KafkaMessage[]> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const quietMs = opts.quietMs ?? 1_500;
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 200 });
  const out: KafkaMessage[] = [];
  let last = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      out.push(...batch.messages);
      last = Date.now();
    },
  });
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      if (out.length >= expected && Date.now() - last >= quietMs) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await consumer.disconnect();
  }
  return out;
}

export function countByKey(ms: KafkaMessage[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of ms) {
    const k = x.key?.toString() ?? '';
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

export { testKafka };
