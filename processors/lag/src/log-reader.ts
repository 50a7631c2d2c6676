import { Admin, Consumer, type RecordsBatch } from '@platformatic/kafka';
import type { CommittedOffsets } from './collect.ts';

/**
 * Reads what kafkajs' admin cannot, or not in one request: high watermarks at READ_UNCOMMITTED
 * (kafkajs asks for the last stable offset, which `kafka-consumer-groups` does not print as
 * LOG-END-OFFSET when a transaction is open), the committed offsets of many groups in one
 * OffsetFetch (v8+; kafkajs sends one request per group), and raw record batches at an offset,
 * control batches included, without joining a group. Built on @platformatic/kafka's low-level
 * client (already a runtime dependency).
 */

export interface LogOffsets {
  start: number;
  /** high watermark */
  end: number;
}

export interface Peek {
  /** nothing consumable from the offset up to the last stable offset: transaction markers, aborted records, an open transaction */
  markerOnly: boolean;
  /** timestamp (ms) of the first consumable record at or after the offset; null when none or unknown */
  firstTimestamp: number | null;
}

export interface PeekRequest {
  topic: string;
  partition: number;
  offset: number;
}

const CONTROL = 0x20;
const TRANSACTIONAL = 0x10;
const READ_COMMITTED = 1;
const READ_UNCOMMITTED = 0;
/** enough for the first batches after the offset; the broker always returns at least one whole batch */
const PEEK_BYTES = 64 * 1024;
/** fetch rounds per sample; what is still open after them is reported as unknown rather than chased */
const PEEK_ROUNDS = 5;
const CACHE_MAX = 20_000;

export const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class LogReader {
  private readonly client: Consumer;
  private readonly admin: Admin;
  /** a peek whose first record was found never changes; a marker-only one holds while the high watermark does */
  private readonly cache = new Map<string, { peek: Peek; end: number }>();

  constructor(brokers: string[], clientId: string) {
    // the group id is required by the client type but never joined: only metadata, ListOffsets and Fetch are sent
    this.client = new Consumer({ clientId, bootstrapBrokers: brokers, groupId: `${clientId}.no-group`, strict: false });
    this.admin = new Admin({ clientId, bootstrapBrokers: brokers });
  }

  /** Every topic-partition each group has committed, in one OffsetFetch per coordinator. */
  async committed(groups: string[]): Promise<CommittedOffsets> {
    const out: CommittedOffsets = new Map();
    if (groups.length === 0) return out;
    for (const g of await this.admin.listConsumerGroupOffsets({ groups })) {
      const topics = new Map<string, Map<number, number | null>>();
      for (const t of g.topics) {
        const parts = new Map<number, number | null>();
        for (const p of t.partitions)
          parts.set(p.partitionIndex, p.committedOffset >= 0n ? Number(p.committedOffset) : null);
        topics.set(t.name, parts);
      }
      out.set(g.groupId, topics);
    }
    return out;
  }

  /** Log start and high watermark of every partition of the topics: two ListOffsets rounds in all. */
  async logOffsets(topics: string[]): Promise<Map<string, LogOffsets>> {
    const out = new Map<string, LogOffsets>();
    if (topics.length === 0) return out;
    const [ends, starts] = await Promise.all([
      this.client.listOffsets({ topics, isolationLevel: READ_UNCOMMITTED }),
      this.client.listOffsets({ topics, timestamp: -2n }),
    ]);
    for (const [topic, partitionEnds] of ends) {
      const partitionStarts = starts.get(topic) ?? [];
      partitionEnds.forEach((end, partition) => {
        out.set(tpKey(topic, partition), { start: Number(partitionStarts[partition] ?? 0n), end: Number(end) });
      });
    }
    return out;
  }

  /**
   * What follows each offset: read_committed fetches, one request per leader and round. Round 1
   * fetches each topic-partition once, from the lowest offset asked (groups reading the same topic
   * are usually close, so one response answers them all); later rounds fetch the offsets still open
   * from their own positions (a topic-partition appears once per request, so these split).
   * `ends` (high watermarks) decide whether a cached marker-only answer still holds.
   */
  async peek(requests: PeekRequest[], ends: Map<string, LogOffsets>): Promise<Map<string, Peek>> {
    const out = new Map<string, Peek>();
    /** open requests by topic-partition, each with the offset its scan continues from */
    const open = new Map<string, { request: PeekRequest; position: number }[]>();
    for (const r of requests) {
      const key = peekKey(r);
      if (out.has(key)) continue;
      const hit = this.cache.get(key);
      const end = ends.get(tpKey(r.topic, r.partition))?.end ?? -1;
      if (hit && (hit.peek.firstTimestamp !== null || hit.end === end)) {
        out.set(key, hit.peek);
        continue;
      }
      out.set(key, UNKNOWN); // until answered
      const tp = tpKey(r.topic, r.partition);
      open.set(tp, [...(open.get(tp) ?? []), { request: r, position: r.offset }]);
    }
    for (let round = 0; round < PEEK_ROUNDS && open.size; round++) {
      const fetches: PeekRequest[] = [];
      for (const waiting of open.values()) {
        const positions = [...new Set(waiting.map((w) => w.position))].sort((a, b) => a - b);
        const { topic, partition } = waiting[0]!.request;
        for (const offset of round === 0 ? positions.slice(0, 1) : positions)
          fetches.push({ topic, partition, offset });
      }
      for (const { request: fetched, response } of await this.fetchAll(fetches)) {
        const tp = tpKey(fetched.topic, fetched.partition);
        const waiting = open.get(tp);
        if (!waiting) continue;
        const still: typeof waiting = [];
        for (const w of waiting) {
          if (w.position < fetched.offset) {
            still.push(w);
            continue;
          }
          const found = scan(response, w.position);
          if (found.kind === 'more' || (found.kind === 'unknown' && w.position !== fetched.offset)) {
            // not reached by this response: continue from where it stopped (or its own offset)
            still.push({ ...w, position: found.kind === 'more' ? found.from : w.position });
            continue;
          }
          const peek: Peek =
            found.kind === 'record'
              ? { markerOnly: false, firstTimestamp: found.timestamp }
              : found.kind === 'none'
                ? { markerOnly: true, firstTimestamp: null }
                : UNKNOWN;
          out.set(peekKey(w.request), peek);
          if (peek !== UNKNOWN) this.remember(w.request, peek, Number(response?.highWatermark ?? -1));
        }
        if (still.length) open.set(tp, still);
        else open.delete(tp);
      }
    }
    return out;
  }

  private remember(r: PeekRequest, peek: Peek, end: number): void {
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(peekKey(r), { peek, end });
  }

  private async fetchAll(requests: PeekRequest[]): Promise<{ request: PeekRequest; response?: PartitionResponse }[]> {
    const topics = [...new Set(requests.map((r) => r.topic))];
    const metadata = await this.client.metadata({ topics });
    // one request per (leader, round): Fetch takes each topic-partition once
    const rounds = new Map<string, PeekRequest[]>();
    const seen = new Map<string, number>();
    for (const r of requests) {
      const leader = metadata.topics.get(r.topic)?.partitions[r.partition]?.leader;
      if (leader === undefined) continue;
      const tp = tpKey(r.topic, r.partition);
      const round = seen.get(tp) ?? 0;
      seen.set(tp, round + 1);
      const key = `${leader}:${round}`;
      rounds.set(key, [...(rounds.get(key) ?? []), r]);
    }
    const results: { request: PeekRequest; response?: PartitionResponse }[] = [];
    await Promise.all(
      [...rounds].map(async ([key, group]) => {
        const node = Number(key.split(':')[0]);
        const byTopic = new Map<string, PeekRequest[]>();
        for (const r of group) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
        const response: FetchResponse = await this.client.fetch({
          node,
          isolationLevel: READ_COMMITTED,
          maxWaitTime: 0,
          minBytes: 0,
          maxBytes: PEEK_BYTES * group.length,
          topics: [...byTopic].map(([topic, rs]) => ({
            topicId: metadata.topics.get(topic)?.id ?? '',
            partitions: rs.map((r) => ({
              partition: r.partition,
              fetchOffset: BigInt(r.offset),
              currentLeaderEpoch: -1,
              lastFetchedEpoch: -1,
              partitionMaxBytes: PEEK_BYTES,
            })),
          })),
        });
        const ids = new Map([...metadata.topics].map(([name, t]) => [t.id, name]));
        const byTp = new Map<string, PartitionResponse>();
        for (const t of response.responses) {
          for (const p of t.partitions) byTp.set(tpKey(ids.get(t.topicId) ?? '', p.partitionIndex), p);
        }
        for (const r of group) results.push({ request: r, response: byTp.get(tpKey(r.topic, r.partition)) });
      }),
    );
    return results;
  }

  async close(): Promise<void> {
    await Promise.all([this.client.close(), this.admin.close()]);
  }
}

// the Fetch response type is not re-exported from the package root
type FetchResponse = Awaited<ReturnType<Consumer['fetch']>>;
type PartitionResponse = FetchResponse['responses'][number]['partitions'][number];

const peekKey = (r: PeekRequest): string => `${tpKey(r.topic, r.partition)}\u0000${r.offset}`;
const UNKNOWN: Peek = { markerOnly: false, firstTimestamp: null };

type Scan =
  | { kind: 'record'; timestamp: number }
  | { kind: 'none' }
  | { kind: 'more'; from: number }
  | { kind: 'unknown' };

/**
 * Walks the batches of a read_committed fetch the way a Kafka consumer does: control batches and
 * the batches of transactions listed as aborted are skipped; the first other record is the oldest
 * unconsumed one. Nothing before the last stable offset → marker-only.
 */
export function scan(p: PartitionResponse | undefined, from: number): Scan {
  if (p?.errorCode !== 0) return { kind: 'unknown' };
  const stable = Number(p.lastStableOffset >= 0n ? p.lastStableOffset : p.highWatermark);
  if (from >= stable) return { kind: 'none' };
  // null when the broker lists none (2.x types the nullable array of Fetch v4+ as it is)
  const aborted = [...(p.abortedTransactions ?? [])].sort((a, b) => Number(a.firstOffset - b.firstOffset));
  const abortedProducers = new Set<bigint>();
  let covered = from;
  for (const batch of p.records ?? []) {
    const last = Number(batch.firstOffset) + batch.lastOffsetDelta;
    while (aborted.length && aborted[0]!.firstOffset <= batch.firstOffset) {
      abortedProducers.add(aborted.shift()!.producerId);
    }
    if (last < from) continue;
    covered = last + 1;
    if (batch.attributes & CONTROL) {
      abortedProducers.delete(batch.producerId);
      continue;
    }
    if (batch.attributes & TRANSACTIONAL && abortedProducers.has(batch.producerId)) continue;
    const ts = firstRecordAt(batch, from);
    if (ts !== null) return { kind: 'record', timestamp: ts };
  }
  if (covered >= stable) return { kind: 'none' };
  // batches that end before `from` (a response fetched from a lower offset) or stop before the
  // stable offset: the caller fetches again from `covered`
  return (p.records ?? []).length ? { kind: 'more', from: covered } : { kind: 'unknown' };
}

function firstRecordAt(batch: RecordsBatch, from: number): number | null {
  for (const r of batch.records) {
    if (Number(batch.firstOffset) + r.offsetDelta >= from) return Number(batch.firstTimestamp + r.timestampDelta);
  }
  return null;
}
