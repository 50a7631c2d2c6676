import { randomUUID } from 'node:crypto';
import { itemId, type RawHeadline } from '@feedlog/schemas';
import type { Kafka } from 'kafkajs';

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

// the topic isolation and reading helpers live once in @feedlog/test
export {
  applyPrefixedTopics,
  countByKey,
  deletePrefixedTopics,
  readCommitted,
  testKafka,
  uniquePrefix,
} from '@feedlog/test';
