import { Admin, Consumer, IS_CONTROL, IS_TRANSACTIONAL, type RecordsBatch } from '@platformatic/kafka';
import { brokerReason } from './platformatic-errors.ts';
import type {
  ClientConsumer,
  ConsumerHandlers,
  ConsumerOptions,
  FetchedBatch,
  InMessage,
  TopicPartitions,
} from './types.ts';

interface PartitionState {
  topic: string;
  partition: number;
  /** next offset to fetch; undefined until resolved */
  offset: bigint | undefined;
  paused: boolean;
  /** bumped by every seek: a fetch issued before it is stale */
  seeks: number;
}

const key = (t: string, p: number) => `${t}:${p}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * read_committed: the broker returns aborted transactions' records too, with the list of aborted
 * transactions (producer id, first offset) of the range; the client drops them (as the Java client
 * does): a transactional batch of a producer whose abort is open at that offset is skipped, and the
 * ABORT control record closes it. Exported for its unit test.
 */
export function committedRecords(
  batches: RecordsBatch[],
  aborted: { producerId: bigint; firstOffset: bigint }[] | null,
): { offset: bigint; batch: RecordsBatch; index: number }[] {
  const pending = [...(aborted ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1));
  const open = new Set<bigint>();
  const out: { offset: bigint; batch: RecordsBatch; index: number }[] = [];
  for (const b of batches) {
    const last = b.firstOffset + BigInt(b.lastOffsetDelta);
    while (pending.length > 0 && (pending[0] as { firstOffset: bigint }).firstOffset <= last)
      open.add((pending.shift() as { producerId: bigint }).producerId);
    if (b.attributes & IS_CONTROL) {
      // control record key: version int16, type int16 (0 abort, 1 commit)
      const k = b.records[0]?.key;
      if (k && k.length >= 4 && k.readInt16BE(2) === 0) open.delete(b.producerId);
      continue;
    }
    if (b.attributes & IS_TRANSACTIONAL && open.has(b.producerId)) continue;
    b.records.forEach((r, index) => {
      out.push({ offset: b.firstOffset + BigInt(r.offsetDelta), batch: b, index });
    });
  }
  return out;
}

/**
 * `singleMemberAssigner` (assigner.ts) for this client: every partition to the member that started
 * first (its start time is the subscription's user data), ties by member id; the others stand by.
 */
export function singleMember(startedAt: number) {
  const started = (m: { metadata?: Buffer | string }) => {
    const n = m.metadata ? Number(m.metadata.toString()) : Number.NaN;
    return Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER;
  };
  return {
    protocolsMetadata: () => Buffer.from(String(startedAt)),
    partitionAssigner: (
      _current: string,
      members: Map<string, { memberId: string; metadata?: Buffer | string }>,
      topics: Set<string>,
      metadata: { topics: Map<string, { partitionsCount: number }> },
    ) => {
      const sorted = [...members.values()].sort(
        (a, b) => started(a) - started(b) || (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0),
      );
      const owner = sorted[0]?.memberId;
      return [...members.keys()].map((memberId) => ({
        memberId,
        assignments: new Map(
          memberId === owner
            ? [...topics].map((topic) => {
                const n = metadata.topics.get(topic)?.partitionsCount ?? 0;
                return [topic, { topic, partitions: Array.from({ length: n }, (_, p) => p) }] as const;
              })
            : [],
        ),
      }));
    },
  };
}

function toMessage(offset: bigint, b: RecordsBatch, i: number): InMessage {
  const r = b.records[i] as RecordsBatch['records'][number];
  const headers: Record<string, Buffer> = {};
  for (const [k, v] of r.headers) if (k) headers[k.toString()] = v ?? Buffer.alloc(0);
  return {
    offset: String(offset),
    timestamp: String(b.firstTimestamp + r.timestampDelta),
    key: r.key,
    value: r.value,
    headers,
  };
}

/**
 * A consumer of our own on @platformatic/kafka 2.x: its `Consumer` only for the group (join,
 * heartbeats, rejoin on rebalance); the fetches are ours, so one partition can be paused, resumed
 * or moved (seek) without touching the others, which its `MessagesStream` cannot do.
 * Start offsets come from the Admin client with `requireStable` (KIP-447), never from a pending
 * transactional offset commit.
 */
export class PlatformaticFetcher implements ClientConsumer {
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  private readonly parts = new Map<string, PartitionState>();
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;

  constructor(
    base: { clientId: string; bootstrapBrokers: string[] },
    private readonly o: ConsumerOptions,
  ) {
    this.consumer = new Consumer({ ...base, groupId: o.groupId, autocommit: false });
    this.admin = new Admin(base);
  }

  async connect(): Promise<void> {}

  async run(r: {
    topics: string[];
    fromBeginning: boolean;
    partitionsConsumedConcurrently: number;
    handlers: ConsumerHandlers;
  }): Promise<void> {
    const { handlers } = r;
    this.consumer.topics.trackAll(...r.topics);
    this.consumer.on('consumer:group:join', (e: { assignments: { topic: string; partitions: number[] }[] | null }) => {
      const assignment: Record<string, number[]> = {};
      for (const a of e.assignments ?? []) assignment[a.topic] = [...a.partitions];
      const keep = new Set<string>();
      for (const [t, ps] of Object.entries(assignment))
        for (const p of ps) {
          keep.add(key(t, p));
          if (!this.parts.has(key(t, p)))
            this.parts.set(key(t, p), { topic: t, partition: p, offset: undefined, paused: false, seeks: 0 });
        }
      for (const k of [...this.parts.keys()]) if (!keep.has(k)) this.parts.delete(k);
      handlers.onGroupJoin(assignment);
      this.wake?.();
    });
    this.consumer.on('error', (e: unknown) => handlers.onCrash(new Error(brokerReason(e), { cause: e }), true));
    await this.consumer.joinGroup({
      sessionTimeout: this.o.sessionTimeout,
      heartbeatInterval: this.o.heartbeatInterval,
      rebalanceTimeout: Math.max(this.o.sessionTimeout, 60_000),
      ...(this.o.singleMemberSince === undefined ? {} : singleMember(this.o.singleMemberSince)),
    });
    this.running = true;
    this.loopDone = this.loop(r.fromBeginning, handlers);
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  /** partitions without a position: the group's stable committed offset, else the log start or end */
  private async resolveStarts(fromBeginning: boolean): Promise<void> {
    const todo = [...this.parts.values()].filter((s) => s.offset === undefined);
    if (todo.length === 0) return;
    const [group] = await this.admin.listConsumerGroupOffsets({
      groups: [{ groupId: this.o.groupId, topics: null }],
      requireStable: true,
    });
    const committed = new Map<string, bigint>();
    for (const t of group?.topics ?? [])
      for (const x of t.partitions)
        if (x.committedOffset >= 0n) committed.set(key(t.name, x.partitionIndex), x.committedOffset);
    const missing = todo.filter((s) => !committed.has(key(s.topic, s.partition)));
    const byTopic = new Map<string, number[]>();
    for (const s of missing) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s.partition]);
    const ends = new Map<string, bigint>();
    if (byTopic.size > 0) {
      const listed = await this.admin.listOffsets({
        topics: [...byTopic].map(([name, ps]) => ({
          name,
          partitions: ps.map((partitionIndex) => ({ partitionIndex, timestamp: fromBeginning ? -2n : -1n })),
        })),
        isolationLevel: 1,
      });
      for (const t of listed) for (const x of t.partitions) ends.set(key(t.name, x.partitionIndex), x.offset);
    }
    for (const s of todo) {
      // a seek may have set it meanwhile
      if (s.offset !== undefined) continue;
      s.offset = committed.get(key(s.topic, s.partition)) ?? ends.get(key(s.topic, s.partition)) ?? 0n;
    }
  }

  private async loop(fromBeginning: boolean, handlers: ConsumerHandlers): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        await this.resolveStarts(fromBeginning);
        const ready = [...this.parts.values()].filter((s) => !s.paused && s.offset !== undefined);
        if (ready.length === 0) {
          await this.idle(100);
          continue;
        }
        await this.fetchOnce(ready, handlers, failures > 0);
        failures = 0;
      } catch (e) {
        if (!this.running) break;
        failures++;
        handlers.onCrash(new Error(`fetch: ${brokerReason(e)}`, { cause: e }), true);
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
      }
    }
  }

  private async fetchOnce(ready: PartitionState[], handlers: ConsumerHandlers, refresh: boolean): Promise<void> {
    const topics = [...new Set(ready.map((s) => s.topic))];
    const metadata = await this.consumer.metadata({ topics, forceUpdate: refresh });
    const byNode = new Map<number, PartitionState[]>();
    for (const s of ready) {
      const leader = metadata.topics.get(s.topic)?.partitions[s.partition]?.leader ?? -1;
      if (leader < 0) continue;
      byNode.set(leader, [...(byNode.get(leader) ?? []), s]);
    }
    await Promise.all(
      [...byNode].map(async ([node, states]) => {
        const asked = new Map(
          states.map((s) => [key(s.topic, s.partition), { offset: s.offset as bigint, seeks: s.seeks }]),
        );
        const requests = new Map<string, { topicId: string; partitions: unknown[] }>();
        const names = new Map<string, string>();
        for (const s of states) {
          const meta = metadata.topics.get(s.topic);
          if (!meta) continue;
          names.set(meta.id, s.topic);
          let r = requests.get(meta.id);
          if (!r) {
            r = { topicId: meta.id, partitions: [] };
            requests.set(meta.id, r);
          }
          r.partitions.push({
            partition: s.partition,
            fetchOffset: s.offset,
            partitionMaxBytes: this.o.maxBytesPerPartition,
            currentLeaderEpoch: -1,
            lastFetchedEpoch: -1,
          });
        }
        const res = await this.consumer.fetch({
          node,
          topics: [...requests.values()] as never,
          maxWaitTime: this.o.maxWaitTimeInMs,
          minBytes: 1,
          maxBytes: 16 * 1024 * 1024,
          isolationLevel: 1,
        });
        await this.deliver(res, names, asked, handlers);
      }),
    );
  }

  private async deliver(
    res: Awaited<ReturnType<Consumer['fetch']>>,
    names: Map<string, string>,
    asked: Map<string, { offset: bigint; seeks: number }>,
    handlers: ConsumerHandlers,
  ): Promise<void> {
    const work: Promise<void>[] = [];
    for (const t of res.responses) {
      const topic = names.get(t.topicId);
      if (!topic) continue;
      for (const p of t.partitions) {
        const k = key(topic, p.partitionIndex);
        const a = asked.get(k);
        const s = this.parts.get(k);
        if (!a || !s || s.seeks !== a.seeks || s.offset !== a.offset) continue;
        if (p.errorCode !== 0) throw new Error(`fetch ${k}: broker error ${p.errorCode}`);
        const batches = p.records ?? [];
        if (batches.length === 0) continue;
        const lastBatch = batches[batches.length - 1] as RecordsBatch;
        const end = lastBatch.firstOffset + BigInt(lastBatch.lastOffsetDelta) + 1n;
        const records = committedRecords(batches, p.abortedTransactions).filter((r) => r.offset >= a.offset);
        const hw = p.highWatermark;
        const seeks = s.seeks;
        // the position moves past everything returned, markers and aborted records included
        if (end > a.offset) s.offset = end;
        const isStale = () => this.parts.get(k)?.seeks !== seeks;
        if (records.length === 0) {
          handlers.onEmptyFetch({
            topic,
            partition: p.partitionIndex,
            firstOffset: String(a.offset),
            lastOffset: String(end - 1n),
            offsetLag: String(hw > end ? hw - end : 0n),
          });
          continue;
        }
        const messages = records.map((r) => toMessage(r.offset, r.batch, r.index));
        const last = messages[messages.length - 1] as InMessage;
        const batch: FetchedBatch = {
          topic,
          partition: p.partitionIndex,
          messages,
          highWatermark: String(hw),
          lastOffset: () => last.offset,
          offsetLag: () => String(hw > end ? hw - end : 0n),
        };
        work.push(handlers.eachBatch({ batch, isStale }));
      }
    }
    await Promise.all(work);
  }

  private each(tps: TopicPartitions[], f: (s: PartitionState) => void) {
    for (const tp of tps)
      for (const s of this.parts.values())
        if (s.topic === tp.topic && (!tp.partitions || tp.partitions.includes(s.partition))) f(s);
  }

  pause(tps: TopicPartitions[]): void {
    this.each(tps, (s) => {
      s.paused = true;
    });
  }

  resume(tps: TopicPartitions[]): void {
    this.each(tps, (s) => {
      s.paused = false;
    });
    this.wake?.();
  }

  seek(o: { topic: string; partition: number; offset: string }): void {
    const s = this.parts.get(key(o.topic, o.partition));
    if (!s) return;
    s.offset = BigInt(o.offset);
    s.seeks++;
    this.wake?.();
  }

  async commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void> {
    await this.consumer.commit({
      offsets: offsets.map((x) => ({
        topic: x.topic,
        partition: x.partition,
        offset: BigInt(x.offset),
        leaderEpoch: -1,
      })),
    });
  }

  async disconnect(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loopDone.catch(() => {});
    await (this.consumer.leaveGroup(false) as Promise<void> | undefined)?.catch(() => {});
    await this.consumer.close().catch(() => {});
    await this.admin.close().catch(() => {});
  }
}
