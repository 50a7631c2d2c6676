import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafka, loadConfig } from '@feedlog/common';
import { Breaker, processBatch, publish, type StageHealth, type StageStatus } from '@feedlog/runtime';
import kafkajs, {
  type Admin,
  type Assigner,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  type KafkaMessage,
  type Message,
  type PartitionAssigner,
  type Producer,
} from 'kafkajs';
import { type ClusterStageParts, changelogPrefix } from './stage.ts';
import { type ChangelogEntry, ClusterState } from './state.ts';

const { AssignerProtocol } = kafkajs;

/** A consumed record, as the runtime's processBatch takes it. */
interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | undefined>;
}

export interface ClusterRunOptions {
  kafka?: Kafka;
  clientId?: string;
  /**
   * How long the merge waits for a partition that has records the consumer has not fetched yet
   * before going on without it (the only timing-dependent ordering decision, see README). Default 10 s.
   */
  maxIdleMs?: number;
  /** per partition: pause fetching above this many buffered records; default 5,000 */
  maxBufferedPerPartition?: number;
  /** prepare the next batch while the previous one commits (default true) */
  pipeline?: boolean;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

export interface RunningCluster {
  readonly groupId: string;
  readonly transactionalId: string;
  /** resolves once this instance holds the partitions and has restored its state (or was assigned none) */
  ready(): Promise<void>;
  stop(): Promise<void>;
  done: Promise<void>;
  health(): StageHealth;
  /** the live state (tests, metrics) */
  state(): ClusterState;
  /** what the last restore read */
  lastRestore(): { entries: number; ms: number } | undefined;
}

/**
 * All input partitions to one member: the one that started first (start time in the member
 * metadata), ties by member id. Every other member is a hot standby with no partitions. The
 * cluster state is global, so splitting partitions across instances would split stories.
 */
export function singleMemberAssigner(startedAt: number): PartitionAssigner {
  return ({ cluster }) => {
    const assigner: Assigner = {
      name: 'FeedlogSingleMember',
      version: 1,
      async assign({ members, topics }) {
        const started = (m: { memberMetadata: Buffer }) => {
          try {
            const ud = AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData;
            const n = ud ? Number(ud.toString()) : Number.NaN;
            return Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER;
          } catch {
            return Number.MAX_SAFE_INTEGER;
          }
        };
        const sorted = [...members].sort(
          (a, b) => started(a) - started(b) || (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0),
        );
        const owner = sorted[0]?.memberId;
        const all: Record<string, number[]> = {};
        for (const t of topics) all[t] = cluster.findTopicPartitionMetadata(t).map((p) => p.partitionId);
        return members.map((m) => ({
          memberId: m.memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: 1,
            assignment: m.memberId === owner ? all : {},
            userData: Buffer.alloc(0),
          }),
        }));
      },
      protocol({ topics }) {
        return {
          name: 'FeedlogSingleMember',
          metadata: AssignerProtocol.MemberMetadata.encode({
            version: 1,
            topics,
            userData: Buffer.from(String(startedAt)),
          }),
        };
      },
    };
    return assigner;
  };
}

/** Header the classify stage sets to the item's event time (epoch ms); the merge orders by it. */
export const EVENT_TIME_HEADER = 'feedlog-event-time';

/** Merge key of a record: its event-time header when it has one, else the Kafka timestamp. Parsed once. */
function orderTime(r: RawRecord & { t?: number }): number {
  if (r.t === undefined) {
    const h = r.headers[EVENT_TIME_HEADER];
    const v = h ? Number(h.toString()) : Number.NaN;
    r.t = Number.isFinite(v) ? v : Number(r.timestamp);
  }
  return r.t;
}

function toRaw(topic: string, partition: number, m: KafkaMessage): RawRecord {
  const headers: Record<string, Buffer | undefined> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    const one = Array.isArray(v) ? v[v.length - 1] : v;
    headers[k] = one === undefined ? undefined : Buffer.isBuffer(one) ? one : Buffer.from(String(one));
  }
  return { topic, partition, offset: m.offset, timestamp: m.timestamp, key: m.key, value: m.value, headers };
}

interface PartitionBuf {
  records: RawRecord[];
  /** next offset this loop expects from the consumer (drops re-deliveries and stale fetches) */
  expect: number;
  /** the last fetch reached the end of the partition (read_committed) */
  drained: boolean;
  /** since when the merge has been waiting for this partition (0: not waiting) */
  waitingSince: number;
  paused: boolean;
  /** log end offset as of the last fetch (-1: unknown) */
  high: number;
  /** next offset to commit (the last committed batch) */
  committed: number;
}

/**
 * Read the changelog topic from the beginning to its end (read_committed) and return this
 * generation's entries in log order, with the generation prefix removed.
 */
export async function readChangelog(
  kafka: Kafka,
  topic: string,
  generation: number,
  timeoutMs = 120_000,
): Promise<ChangelogEntry[]> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `feedlog.cluster.restore.${randomUUID()}`;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const ends = new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
    const pending = new Set([...ends].filter(([, e]) => e.high > e.low).map(([p]) => p));
    const out: ChangelogEntry[] = [];
    if (pending.size === 0) return out;
    const prefix = changelogPrefix(generation);
    const consumer = kafka.consumer({
      groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 200,
    });
    let finish: () => void = () => {};
    const finished = new Promise<void>((r) => {
      finish = r;
    });
    // fires for every fetched batch, including ones that hold only control records (commit markers)
    consumer.on(consumer.events.START_BATCH_PROCESS, ({ payload }) => {
      const end = ends.get(payload.partition);
      if (end && Number(payload.lastOffset) >= end.high - 1) {
        pending.delete(payload.partition);
        if (pending.size === 0) finish();
      }
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const k = m.key?.toString() ?? '';
            if (!k.startsWith(prefix)) continue;
            out.push({ key: k.slice(prefix.length), value: m.value === null ? null : m.value.toString() });
          }
        },
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        finished,
        new Promise<never>((_, rej) => {
          timer = setTimeout(
            () => rej(new Error(`changelog ${topic}: not read to its end in ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
    } finally {
      await consumer.disconnect().catch(() => {});
      await admin.deleteGroups([groupId]).catch(() => {});
    }
    return out;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Run the cluster stage against Kafka. Not the runtime's runStage, because the cluster state is
 * one global state (see README "Running the stage"):
 *  - one instance consumes every input partition (`singleMemberAssigner`; others stand by);
 *  - records of all partitions are merged in (event time, partition, offset) order, waiting for a
 *    partition whose records exist but are not fetched yet, so the order is a function of the log;
 *  - one transactional producer (`<prefix>feedlog.cluster.g<N>`) commits, per batch, in ONE
 *    transaction: the outputs, the dead letters, the state changes to the compacted changelog
 *    (keys `g<N>/…`) and the input offsets of every partition in the batch;
 *  - on (re)assignment and after any failed batch: fence (InitProducerId aborts a previous owner's
 *    open transaction), read the changelog to its end, restore, seek to the committed offsets.
 * Decoding, the transform, retries, DLQ records, encoding and the tracer come from the runtime's
 * processBatch, and the same diagnostics events are published, so telemetry sees no difference.
 */
export async function runClusterStage(parts: ClusterStageParts, opts: ClusterRunOptions = {}): Promise<RunningCluster> {
  const { stage, holder, changelogTopic } = parts;
  const cfg = stage.config;
  const kafka = opts.kafka ?? createKafka(loadConfig(), { clientId: opts.clientId ?? `feedlog-${stage.name}` });
  const log = opts.log ?? (() => {});
  const maxIdleMs = opts.maxIdleMs ?? 10_000;
  const pipeline = opts.pipeline ?? true;
  const maxBuffered = opts.maxBufferedPerPartition ?? cfg.buffer.maxRecords;
  const topic = stage.input.topic;
  const groupId = stage.groupId;
  const prefix = changelogPrefix(stage.generation);
  const transactionalId = `${groupId}.all`;
  const startedAt = Date.now();

  let status: StageStatus = 'starting';
  const setStatus = (s: StageStatus, detail?: string) => {
    status = s;
    publish('lifecycle', { stage: stage.name, status: s, ...(detail ? { detail } : {}) });
    log('lifecycle', { status: s, ...(detail ? { detail } : {}) });
  };

  const admin: Admin = kafka.admin();
  const consumer: Consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    sessionTimeout: cfg.sessionTimeoutMs,
    heartbeatInterval: cfg.heartbeatIntervalMs,
    maxWaitTimeInMs: cfg.maxWaitTimeMs,
    allowAutoTopicCreation: false,
    partitionAssigners: [singleMemberAssigner(startedAt)],
  });
  let producer: Producer | undefined;
  const breakers = new Map<string, Breaker>();
  const breaker = (name: string) => {
    let b = breakers.get(name);
    if (!b) {
      b = new Breaker(name, cfg.breaker, (state) => publish('breaker', { stage: stage.name, breaker: name, state }));
      breakers.set(name, b);
    }
    return b;
  };

  const bufs = new Map<number, PartitionBuf>();
  /** assignment from the last rebalance; `epoch` counts them so a stale activation gives up */
  let assigned: number[] = [];
  let epoch = 0;
  let active = false;
  let restoring = false;
  let restoreInfo: { entries: number; ms: number } | undefined;
  let committedBatches = 0;
  let lastCommitAt = 0;
  let idleSkips = 0;
  let wake: (() => void) | undefined;
  const poke = () => wake?.();

  const stopCtl = new AbortController();
  let readyResolve: () => void = () => {};
  const readyP = new Promise<void>((r) => {
    readyResolve = r;
  });

  const newProducer = async (): Promise<Producer> => {
    const p = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: cfg.transactionTimeoutMs,
      allowAutoTopicCreation: false,
    });
    await p.connect();
    // InitProducerId on an empty transaction: fences an older owner and completes its open transaction
    const tx = await p.transaction();
    await tx.abort();
    return p;
  };

  /** fence, restore, seek: the partitions are ours from here on */
  const activate = async (myEpoch: number): Promise<void> => {
    restoring = true;
    active = false;
    try {
      consumer.pause([{ topic }]);
      await producer?.disconnect().catch(() => {});
      producer = undefined;
      const p = await newProducer();
      if (myEpoch !== epoch) {
        await p.disconnect().catch(() => {});
        return;
      }
      producer = p;
      const t0 = performance.now();
      const entries = await readChangelog(kafka, changelogTopic, stage.generation);
      holder.state = ClusterState.restore(entries, holder.options);
      restoreInfo = { entries: entries.length, ms: performance.now() - t0 };
      log('restored', { entries: entries.length, ms: Math.round(restoreInfo.ms), ...holder.state.stats() });

      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const ends = await admin.fetchTopicOffsets(topic);
      if (myEpoch !== epoch) return;
      bufs.clear();
      for (const part of assigned) {
        const c = Number(committed?.partitions.find((x) => x.partition === part)?.offset ?? -1);
        const end = ends.find((e) => e.partition === part);
        const low = Number(end?.low ?? 0);
        const high = Number(end?.high ?? 0);
        const start = c >= 0 ? c : cfg.fromBeginning ? low : high;
        bufs.set(part, {
          records: [],
          expect: start,
          drained: start >= high,
          waitingSince: 0,
          paused: false,
          high,
          committed: start,
        });
        consumer.seek({ topic, partition: part, offset: String(start) });
      }
      consumer.resume([{ topic }]);
      active = true;
      if (status === 'starting' || status === 'failed') setStatus('ready');
      readyResolve();
    } finally {
      restoring = false;
    }
  };

  let activation: Promise<void> = Promise.resolve();
  const scheduleActivation = () => {
    const my = ++epoch;
    active = false;
    activation = activation.then(async () => {
      for (let attempt = 0; my === epoch && !stopCtl.signal.aborted; attempt++) {
        try {
          if (assigned.length === 0) {
            bufs.clear();
            await producer?.disconnect().catch(() => {});
            producer = undefined;
            if (status === 'starting') setStatus('ready', 'standby: no partitions assigned');
            readyResolve();
            return;
          }
          await activate(my);
          poke();
          return;
        } catch (e) {
          publish('error', { stage: stage.name, where: 'activate', error: e });
          log('activate failed', { error: String(e), attempt });
          await sleep(Math.min(10_000, 250 * 2 ** Math.min(attempt, 6)), undefined, { signal: stopCtl.signal }).catch(
            () => {},
          );
        }
      }
    });
  };

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    if (stopCtl.signal.aborted) return;
    const next = [...(payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
    const revoked = assigned.filter((p) => !next.includes(p));
    const added = next.filter((p) => !assigned.includes(p));
    assigned = next;
    publish('assignment', {
      stage: stage.name,
      assigned: added.map((partition) => ({ topic, partition })),
      revoked: revoked.map((partition) => ({ topic, partition })),
    });
    log('assignment', { partitions: next });
    // unchanged and running: keep the state and buffers (kafkajs re-fetches from the committed
    // offsets; `expect` drops what is re-delivered). A takeover in between shows as a fenced commit.
    if (active && added.length === 0 && revoked.length === 0) return;
    scheduleActivation();
  });

  // a fetch that held only control records (commit markers) or aborted records never reaches eachBatch:
  // this event still says how far it got, so a partition ending in a commit marker counts as drained
  consumer.on(consumer.events.START_BATCH_PROCESS, ({ payload }) => {
    if (payload.topic !== topic || payload.batchSize !== 0 || restoring) return;
    const b = bufs.get(payload.partition);
    if (!b) return;
    b.expect = Math.max(b.expect, Number(payload.lastOffset) + 1);
    b.drained = Number(payload.offsetLag) <= 0;
    poke();
  });

  let failure: unknown;
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    publish('error', { stage: stage.name, where: 'consumer', error: payload.error });
    if (!payload.restart) {
      failure = payload.error;
      setStatus('failed', String(payload.error));
      void stop();
    }
  });

  const eachBatch = async ({ batch, isStale }: EachBatchPayload) => {
    if (stopCtl.signal.aborted || isStale()) return;
    const b = bufs.get(batch.partition);
    if (!b || restoring) return;
    for (const m of batch.messages) {
      const off = Number(m.offset);
      if (off < b.expect) continue;
      b.records.push(toRaw(batch.topic, batch.partition, m));
      b.expect = off + 1;
      b.waitingSince = 0;
    }
    b.expect = Math.max(b.expect, Number(batch.lastOffset()) + 1);
    b.high = Number(batch.highWatermark);
    b.drained = Number(batch.offsetLag()) <= 0;
    if (b.records.length >= maxBuffered && !b.paused) {
      b.paused = true;
      consumer.pause([{ topic, partitions: [batch.partition] }]);
      publish('backpressure', {
        stage: stage.name,
        topic,
        partition: batch.partition,
        paused: true,
        reason: 'buffer full',
        bufferedRecords: b.records.length,
        bufferedBytes: 0,
      });
    }
    poke();
  };

  /**
   * Take up to `max` records in (event time, partition, offset) order (event time: the
   * `feedlog-event-time` header, else the Kafka timestamp). Stops when a partition that
   * is not at its end has nothing buffered (its next record may come first), unless the merge has
   * waited `maxIdleMs` for it.
   */
  const take = (max: number): RawRecord[] => {
    const out: RawRecord[] = [];
    const now = performance.now();
    const parts = [...bufs.entries()];
    const heads = new Map<number, number>(parts.map(([p]) => [p, 0]));
    let skipped = false;
    while (out.length < max) {
      let best: RawRecord | undefined;
      let bestP = -1;
      let blocked = false;
      for (const [p, b] of parts) {
        const i = heads.get(p) ?? 0;
        const r = b.records[i];
        if (!r) {
          if (b.drained) continue;
          if (b.waitingSince === 0) b.waitingSince = now;
          if (now - b.waitingSince < maxIdleMs) {
            blocked = true;
            break;
          }
          skipped = true;
          continue;
        }
        if (!best || orderTime(r) < orderTime(best) || (orderTime(r) === orderTime(best) && p < bestP)) {
          best = r;
          bestP = p;
        }
      }
      if (blocked || !best) break;
      out.push(best);
      heads.set(bestP, (heads.get(bestP) ?? 0) + 1);
    }
    if (skipped) idleSkips++;
    for (const [p, n] of heads) {
      if (n === 0) continue;
      const b = bufs.get(p) as PartitionBuf;
      b.records.splice(0, n);
      if (b.paused && b.records.length < maxBuffered / 2) {
        b.paused = false;
        consumer.resume([{ topic, partitions: [p] }]);
        publish('backpressure', {
          stage: stage.name,
          topic,
          partition: p,
          paused: false,
          reason: 'buffer full',
          bufferedRecords: b.records.length,
          bufferedBytes: 0,
        });
      }
    }
    return out;
  };

  const buffered = () => {
    let n = 0;
    for (const b of bufs.values()) n += b.records.length;
    return n;
  };

  const waitForWork = async (interrupt: () => boolean) => {
    const { maxRecords, lingerMs } = cfg.batch;
    // linger: give the consumer time to fill a batch, but not past lingerMs after work appeared
    const first = performance.now();
    while (!stopCtl.signal.aborted && !interrupt()) {
      if (active && buffered() > 0 && (buffered() >= maxRecords || performance.now() - first >= lingerMs)) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, active && buffered() > 0 ? Math.max(1, lingerMs) : 200);
        function done() {
          clearTimeout(t);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    }
  };

  interface Prepared {
    batch: RawRecord[];
    myEpoch: number;
    t0: number;
    result: Awaited<ReturnType<typeof processBatch>>;
    changes: ChangelogEntry[];
    offsets: Map<number, number>;
  }

  /** decode, transform (the state changes in memory), encode, take the changelog: CPU, no broker */
  const prepare = async (batch: RawRecord[], myEpoch: number): Promise<Prepared> => {
    const t0 = performance.now();
    const result = await processBatch(stage, batch, { breaker, signal: stopCtl.signal });
    const changes = holder.state.takeChangelog();
    const offsets = new Map<number, number>();
    for (const r of batch) offsets.set(r.partition, Math.max(offsets.get(r.partition) ?? 0, Number(r.offset) + 1));
    return { batch, myEpoch, t0, result, changes, offsets };
  };

  /** one transaction: outputs, dead letters, changelog, offsets */
  const commit = async ({ batch, myEpoch, t0, result, changes, offsets }: Prepared): Promise<void> => {
    const p = producer;
    if (!p || myEpoch !== epoch) throw new Error('partitions were reassigned during the batch');
    const tc = performance.now();
    const tx = await p.transaction();
    try {
      const topicMessages: { topic: string; messages: Message[] }[] = [];
      if (result.outputs.length)
        topicMessages.push({
          topic: stage.output.topic,
          messages: result.outputs.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
        });
      if (result.dead.length)
        topicMessages.push({
          topic: stage.dlq.topic,
          messages: result.dead.map((d) => ({
            key: d.message.key,
            value: d.message.value,
            headers: d.message.headers,
          })),
        });
      if (changes.length)
        topicMessages.push({
          topic: changelogTopic,
          messages: changes.map((e) => ({ key: prefix + e.key, value: e.value })),
        });
      if (topicMessages.length) await tx.sendBatch({ topicMessages, acks: -1 });
      await tx.sendOffsets({
        consumerGroupId: groupId,
        topics: [
          {
            topic,
            partitions: [...offsets].map(([partition, o]) => ({ partition, offset: String(o) })),
          },
        ],
      });
      await tx.commit();
    } catch (e) {
      if (tx.isActive()) await tx.abort().catch(() => {});
      throw e;
    }
    const end = performance.now();
    committedBatches++;
    lastCommitAt = Date.now();
    let lag = 0;
    for (const [part, o] of offsets) {
      const b = bufs.get(part);
      if (b) b.committed = o;
    }
    for (const b of bufs.values()) lag += b.high >= 0 ? Math.max(0, b.high - b.committed) : 0;
    for (const d of result.dead) {
      publish('dlq', {
        stage: stage.name,
        topic: d.record.topic,
        partition: d.record.partition,
        offset: d.record.offset,
        errorClass: d.letter.error_class,
        message: d.letter.error_message,
        attempts: d.letter.attempts,
      });
    }
    const first = batch[0] as RawRecord;
    const last = batch[batch.length - 1] as RawRecord;
    publish('batch', {
      stage: stage.name,
      generation: stage.generation,
      topic,
      partition: offsets.size === 1 ? first.partition : -1,
      firstOffset: first.offset,
      lastOffset: last.offset,
      recordsIn: batch.length,
      recordsOut: result.outputs.length,
      dlq: result.dead.length,
      bytesIn: batch.reduce((s, r) => s + (r.key?.length ?? 0) + (r.value?.length ?? 0) + 64, 0),
      batchMs: end - t0,
      transformMs: result.transformMs,
      commitMs: end - tc,
      mode: 'exactly-once',
      lag,
    });
  };

  /**
   * Pipelined: batch k+1 is prepared (decoded, clustered, encoded) while batch k's transaction is
   * committing, and its own transaction starts only once k's has committed. If k's commit fails,
   * k+1 (prepared on a state that included k) is dropped with it and the state is rebuilt from the
   * log, as after any failed batch.
   */
  let inflight: Promise<void> | undefined;
  let inflightError: { error: unknown } | undefined;
  const settle = async () => {
    const f = inflight;
    inflight = undefined;
    if (f) await f;
    const failed = inflightError;
    inflightError = undefined;
    if (failed) throw failed.error;
  };
  const loop = async () => {
    let failures = 0;
    while (!stopCtl.signal.aborted) {
      try {
        if (inflightError) await settle();
        await waitForWork(() => inflightError !== undefined);
        if (stopCtl.signal.aborted) break;
        if (inflightError) await settle();
        if (!active) continue;
        const myEpoch = epoch;
        const before = idleSkips;
        const batch = take(cfg.batch.maxRecords);
        if (batch.length === 0) {
          // blocked on a partition whose records are not fetched yet: wait for the consumer
          await sleep(Math.min(50, maxIdleMs), undefined, { signal: stopCtl.signal }).catch(() => {});
          continue;
        }
        if (idleSkips !== before) log('idle partition skipped', { idleSkips });
        const prepared = await prepare(batch, myEpoch);
        await settle();
        const c = commit(prepared).then(
          () => {
            failures = 0;
          },
          (e: unknown) => {
            inflightError = { error: e };
          },
        );
        inflight = c.finally(poke);
        if (!pipeline) await settle();
      } catch (e) {
        await settle().catch(() => {});
        if (stopCtl.signal.aborted) break;
        failures++;
        publish('error', { stage: stage.name, topic, where: 'batch', error: e });
        log('batch failed', { error: String(e), failures });
        // the state may hold changes that were never committed: rebuild it from the changelog
        active = false;
        await sleep(Math.min(10_000, 100 * 2 ** Math.min(failures, 7)), undefined, { signal: stopCtl.signal }).catch(
          () => {},
        );
        if (!stopCtl.signal.aborted) scheduleActivation();
      }
    }
    await settle().catch(() => {});
  };

  let stopping: Promise<void> | undefined;
  let doneResolve: () => void = () => {};
  let doneReject: (e: unknown) => void = () => {};
  const done = new Promise<void>((res, rej) => {
    doneResolve = res;
    doneReject = rej;
  });
  done.catch(() => {});
  let loopDone: Promise<void> = Promise.resolve();

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (status !== 'failed') setStatus('stopping');
      stopCtl.abort();
      poke();
      try {
        consumer.pause([{ topic }]);
      } catch {}
      await Promise.race([loopDone, sleep(cfg.shutdownTimeoutMs)]);
      await activation.catch(() => {});
      await consumer.disconnect().catch(() => {});
      await producer?.disconnect().catch(() => {});
      await admin.disconnect().catch(() => {});
      readyResolve();
      if (failure) doneReject(failure);
      else {
        setStatus('stopped');
        doneResolve();
      }
    })();
    return stopping;
  };

  await admin.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: cfg.fromBeginning });
  await consumer.run({ autoCommit: false, eachBatchAutoResolve: true, partitionsConsumedConcurrently: 1, eachBatch });
  loopDone = loop();

  return {
    groupId,
    transactionalId,
    ready: () => readyP,
    stop,
    done,
    state: () => holder.state,
    lastRestore: () => restoreInfo,
    health(): StageHealth {
      return {
        stage: stage.name,
        groupId,
        status,
        live: status !== 'failed',
        ready: status === 'ready' && (active || assigned.length === 0),
        partitions: [...bufs].map(([partition, b]) => ({
          topic,
          partition,
          buffered: b.records.length,
          paused: b.paused,
          nextOffset: b.committed,
          lag: b.high >= 0 ? Math.max(0, b.high - b.committed) : -1,
          committedBatches,
          lastCommitAt: lastCommitAt || null,
        })),
        breakers: Object.fromEntries([...breakers].map(([k, b]) => [k, b.state])),
        ...(failure ? { error: String(failure) } : {}),
      };
    },
  };
}
