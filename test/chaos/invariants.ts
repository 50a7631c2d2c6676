import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmbeddedIndex } from '@feedlog/index';
import { LagMonitor } from '@feedlog/lag';
import { declareFeedlog, dlqName, type StageName, topicNames } from '@feedlog/topics';
import type { Kafka } from 'kafkajs';
import { type ChaosStack, groupOf, STAGES } from './stack.ts';

/**
 * What a scenario must leave behind once healed and caught up, restricted to its own keys (the
 * suite's scenarios share one stack): every pushed item in PostgreSQL (with its index stage
 * recorded) and in the serving index; every stage topic holding each key as often as
 * raw-headlines does (a client retry may put a key twice into raw-headlines; the pipeline must
 * not add any); dead-letter topics holding exactly the injected poison.
 */

/** Lag of this stack's groups (stages in Kafka, the materializer in PostgreSQL), transaction markers not counted. */
export class LagWatch {
  readonly monitor: LagMonitor;
  max = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly groups: string[];

  constructor(stack: ChaosStack) {
    this.groups = [...STAGES, 'materialize'].map((s) => groupOf(stack.prefix, s));
    this.monitor = new LagMonitor({
      kafka: stack.kafka,
      pool: stack.pool,
      groups: this.groups,
      minSamples: 1,
      brokers: stack.brokers.split(','),
    });
  }

  /** Current lag summed over the groups; undefined when a group is not there yet or a read failed. */
  async lag(): Promise<number | undefined> {
    const r = await this.monitor.sample().catch(() => undefined);
    if (!r || r.warnings.length) return undefined;
    const seen = new Set(r.groups.map((g) => g.group));
    if (!this.groups.every((g) => seen.has(g))) return undefined;
    const lag = r.groups.reduce((s, g) => s + g.partitions.reduce((t, p) => t + (p.markerOnly ? 0 : p.lag), 0), 0);
    this.max = Math.max(this.max, lag);
    return lag;
  }

  /** Samples every second for the max-lag figure (failed samples — PostgreSQL down — are skipped). */
  start(): void {
    this.timer = setInterval(() => void this.lag(), 1_000);
  }

  /** Waits until every group's lag is zero on two samples in a row; resolves with the time it took. */
  async untilZero(timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    let zeros = 0;
    while (Date.now() - t0 < timeoutMs) {
      const l = await this.lag();
      zeros = l === 0 ? zeros + 1 : 0;
      if (zeros >= 2) return Date.now() - t0;
      await sleep(500);
    }
    throw new Error(`lag not zero after ${timeoutMs} ms`);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.monitor.close();
  }
}

/**
 * How often each key `wanted` accepts occurs in `topic` (read_committed, from the beginning),
 * once at least `expected` such records arrived and the topic was quiet for `quietMs`, or at
 * `timeoutMs` (a loss: the caller reports what is missing).
 */
export async function readKeyCounts(
  kafka: Kafka,
  topic: string,
  wanted: (key: string) => boolean,
  expected: number,
  timeoutMs: number,
  quietMs = 1_000,
): Promise<Map<string, number>> {
  const consumer = kafka.consumer({
    groupId: `chaos-check-${randomUUID()}`,
    readUncommitted: false,
    maxWaitTimeInMs: 200,
  });
  const counts = new Map<string, number>();
  let n = 0;
  let last = Date.now();
  // an empty topic yields no batch: quiet counts only after the consumer has fetched at least twice
  let fetches = 0;
  consumer.on(consumer.events.FETCH, () => {
    if (++fetches === 1) last = Date.now();
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 3,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const k = m.key?.toString() ?? '';
          if (!wanted(k)) continue;
          counts.set(k, (counts.get(k) ?? 0) + 1);
          n++;
        }
        last = Date.now();
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !(n >= expected && fetches >= 2 && Date.now() - last >= quietMs)) await sleep(100);
  } finally {
    await consumer.disconnect();
  }
  return counts;
}

export interface TopicCheck {
  topic: string;
  /** records of the scenario's keys beyond what raw-headlines holds for them */
  duplicates: number;
  /** scenario keys absent from the topic */
  missing: number;
}

export interface Verdict {
  pushed: number;
  inPostgres: number;
  inIndex: number;
  duplicates: number;
  lost: number;
  /** dead letters of this scenario's keys, and how many of them were not injected poison (or came twice) */
  dlq: number;
  dlqUnexpected: number;
  /** raw-headlines records beyond one per pushed item (client retries after an ambiguous failure) */
  rawRetries: number;
  topics: TopicCheck[];
  /** a few of the lost or duplicated keys, for the report */
  examples: string[];
}

export async function checkInvariants(
  stack: ChaosStack,
  acked: ReadonlySet<string>,
  poison: readonly string[],
  runTag: string,
): Promise<Verdict> {
  const { kafka, prefix } = stack;
  const t = (base: string) => `${prefix}${base}`;
  const mine = (k: string) => acked.has(k);
  const examples: string[] = [];

  const timeoutMs = 30_000 + acked.size;
  const rawCount = await readKeyCounts(kafka, t(topicNames.raw), mine, acked.size, timeoutMs);
  let rawRetries = 0;
  for (const k of acked) rawRetries += Math.max(0, (rawCount.get(k) ?? 0) - 1);
  const lostKeys = new Set<string>();
  for (const k of acked) if (!rawCount.has(k)) lostKeys.add(k);

  const topics: TopicCheck[] = [];
  for (const base of [topicNames.classified, topicNames.clustered, topicNames.embedded, topicNames.indexed]) {
    const counts = await readKeyCounts(kafka, t(base), mine, acked.size, timeoutMs);
    let duplicates = 0;
    let missing = 0;
    for (const k of acked) {
      const c = counts.get(k) ?? 0;
      if (c === 0) {
        missing++;
        lostKeys.add(k);
      }
      const extra = c - (rawCount.get(k) ?? 0);
      if (extra > 0) {
        duplicates += extra;
        if (examples.length < 5) examples.push(`${base}: ${k} ×${c}`);
      }
    }
    topics.push({ topic: base, duplicates, missing });
  }

  const ids = [...acked];
  const r = await stack.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM items WHERE item_id = ANY($1) AND indexed_at IS NOT NULL',
    [ids],
  );
  const inPostgres = Number(r.rows[0]?.n ?? 0);
  if (inPostgres < ids.length) {
    const found = await stack.pool.query<{ item_id: string }>(
      'SELECT item_id FROM items WHERE item_id = ANY($1) AND indexed_at IS NOT NULL',
      [ids],
    );
    const have = new Set(found.rows.map((x) => x.item_id));
    for (const k of ids) if (!have.has(k)) lostKeys.add(k);
  }

  // the serving index, read as the API reads it (read-only, next to the running writer)
  const index = new EmbeddedIndex({ dir: stack.indexDir, readOnly: true });
  let inIndex = 0;
  try {
    const gen = (await index.servingGeneration('headlines')) ?? 1;
    const c = index.collection(gen);
    await c.refresh();
    for (const k of ids) {
      if (c.has(k)) inIndex++;
      else lostKeys.add(k);
    }
  } finally {
    await index.close();
  }

  // dead letters: the scenario's poison exactly once in the dead-letter topic of each consumer of
  // raw-headlines (classify and the materializer both read it), nothing else of the scenario anywhere
  const poisonSet = new Set(poison);
  const rawConsumers = new Set(
    declareFeedlog({ prefix })
      .stages.filter((s) => s.consumes.includes(t(topicNames.raw)))
      .map((s) => s.name),
  );
  let dlq = 0;
  let dlqUnexpected = 0;
  for (const stage of [...STAGES, 'materialize'] as const satisfies readonly StageName[]) {
    const ours = (k: string) => mine(k) || poisonSet.has(k) || k.includes(runTag);
    const poisoned = rawConsumers.has(stage);
    // where poison is due it is awaited; the other topics are read until quiet
    const counts = await readKeyCounts(kafka, t(dlqName(stage)), ours, poisoned ? poison.length : 0, timeoutMs, 2_000);
    for (const [k, c] of counts) {
      dlq += c;
      const expected = poisoned && poisonSet.has(k) ? 1 : 0;
      if (c !== expected) {
        dlqUnexpected += Math.abs(c - expected);
        if (examples.length < 8) examples.push(`${dlqName(stage)}: ${k} ×${c}`);
      }
    }
    if (poisoned) for (const k of poison) if (!counts.has(k)) dlqUnexpected++;
  }
  for (const k of lostKeys) if (examples.length < 8) examples.push(`lost ${k}`);

  return {
    pushed: acked.size,
    inPostgres,
    inIndex,
    duplicates: topics.reduce((s, x) => s + x.duplicates, 0),
    lost: lostKeys.size,
    dlq,
    dlqUnexpected,
    rawRetries,
    topics,
    examples,
  };
}
