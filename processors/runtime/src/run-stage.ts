import { createKafka, fetchMaxWaitOverride, loadConfig } from '@feedlog/common';
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { singleMemberAssigner } from './assigner.ts';
import { Breaker } from './breaker.ts';
import type { Stage, StageConfig } from './define-stage.ts';
import { runtimeEnv } from './env.ts';
import { AtLeastOnceSink, type Sink, TransactionalSink, transactionalIdFor } from './eos.ts';
import type { PartitionHealth, StageHealth, StageStatus } from './health.ts';
import { publish } from './instrumentation.ts';
import { MergeWorker } from './merge-worker.ts';
import { PartitionWorker, type WorkerHost } from './partition-worker.ts';
import { StoreSink } from './store-sink.ts';

export interface RunOptions {
  /** a kafkajs client; default: createKafka(loadConfig()) */
  kafka?: Kafka;
  clientId?: string;
}

export interface RunningStage {
  readonly groupId: string;
  /** `merge` stages: the one transactional id of the instance */
  readonly transactionalId: string | undefined;
  health(): StageHealth;
  /** resolves once the group assigned this instance its partitions (possibly none); `merge` stages: and restored */
  ready(): Promise<void>;
  /** graceful: finish or abort open transactions, leave the group, close every client */
  stop(): Promise<void>;
  /** settles when the stage stops: resolves after stop(), rejects when the consumer crashed for good */
  done: Promise<void>;
}

const tp = (topic: string, partition: number) => `${topic}:${partition}`;

/** the runtime's environment variables, where set, over the stage's own config */
function withEnvOverrides(config: StageConfig, env: ReturnType<typeof runtimeEnv.parse>): StageConfig {
  const blockMs = env.STAGE_BACKPRESSURE_BLOCK_MS;
  const maxBytes = env.STAGE_BATCH_MAX_BYTES;
  const maxRecords = env.STAGE_BATCH_MAX_RECORDS;
  return {
    ...config,
    ...(blockMs === undefined ? {} : { backpressureBlockMs: blockMs }),
    batch: {
      ...config.batch,
      ...(maxBytes === undefined ? {} : { maxBytes }),
      ...(maxRecords === undefined ? {} : { maxRecords }),
    },
  };
}

/**
 * Run a stage against Kafka: a consumer group (`feedlog.<stage>.g<generation>` by default) reading
 * read_committed. Per assigned partition a PartitionWorker with its own sink: a transactional
 * producer (exactly-once), an idempotent one and the group's offsets (at-least-once), or the
 * stage's store, which keeps the offsets in its own transaction. A `merge` stage instead gets every
 * partition on one instance (`singleMemberAssigner`) and one MergeWorker with one producer.
 */
export async function runStage<I, O>(stage: Stage<I, O>, opts: RunOptions = {}): Promise<RunningStage> {
  const cfg = withEnvOverrides(stage.config, runtimeEnv.parse());
  const kafka = opts.kafka ?? createKafka(loadConfig(), { clientId: opts.clientId ?? `feedlog-${stage.name}` });
  const topics = stage.input.topics;
  const groupId = stage.groupId;
  // the workers read batch/buffer bounds from their stage: give them the overridden config
  const any = { ...stage, config: cfg } as Stage<unknown, unknown>;
  let status: StageStatus = 'starting';
  let failure: unknown;
  const workers = new Map<string, PartitionWorker>();
  const breakers = new Map<string, Breaker>();
  const setStatus = (s: StageStatus, detail?: string) => {
    status = s;
    publish('lifecycle', { stage: stage.name, status: s, ...(detail ? { detail } : {}) });
  };

  const admin: Admin = kafka.admin();
  const consumer: Consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    sessionTimeout: cfg.sessionTimeoutMs,
    heartbeatInterval: cfg.heartbeatIntervalMs,
    maxWaitTimeInMs: fetchMaxWaitOverride() ?? cfg.maxWaitTimeMs,
    // one fetch is what a paused partition can still add to its buffer: keep it within the bound
    maxBytesPerPartition: cfg.maxBytesPerPartition || Math.max(64 * 1024, Math.min(1024 * 1024, cfg.buffer.maxBytes)),
    allowAutoTopicCreation: false,
    ...(stage.merge ? { partitionAssigners: [singleMemberAssigner(Date.now())] } : {}),
  });

  const breaker = (name: string) => {
    let b = breakers.get(name);
    if (!b) {
      b = new Breaker(name, cfg.breaker, (state) => publish('breaker', { stage: stage.name, breaker: name, state }));
      breakers.set(name, b);
    }
    return b;
  };
  const seek = (t: string, p: number, offset: number) =>
    consumer.seek({ topic: t, partition: p, offset: String(offset) });

  const host: WorkerHost = {
    stage: any,
    newSink(t, p): Sink {
      if (stage.store) return new StoreSink(kafka, consumer, stage.store, stage.name);
      if (cfg.mode === 'at-least-once') return new AtLeastOnceSink(kafka, consumer);
      return new TransactionalSink(
        kafka,
        transactionalIdFor(stage.name, stage.generation, t, p),
        groupId,
        cfg.transactionTimeoutMs,
      );
    },
    async committedOffset(t, p) {
      if (stage.store) return stage.store.committedOffset(t, p);
      const [res] = await admin.fetchOffsets({ groupId, topics: [t] });
      const off = res?.partitions.find((x) => x.partition === p)?.offset;
      return off === undefined ? -1 : Number(off);
    },
    seek,
    pause: (t, p) => consumer.pause([{ topic: t, partitions: [p] }]),
    resume: (t, p) => consumer.resume([{ topic: t, partitions: [p] }]),
    breaker,
    onCommit() {},
    advanceOverMarkers: stage.store !== undefined,
    blockMs: cfg.backpressureBlockMs,
  };

  let readyResolve: () => void = () => {};
  const readyP = new Promise<void>((r) => {
    readyResolve = r;
  });
  let doneResolve: () => void = () => {};
  let doneReject: (e: unknown) => void = () => {};
  const done = new Promise<void>((res, rej) => {
    doneResolve = res;
    doneReject = rej;
  });
  done.catch(() => {}); // observed through health() / by whoever awaits it

  const transactionalId = stage.merge ? `${groupId}.all` : undefined;
  const merged = stage.merge
    ? new MergeWorker({
        stage: any,
        kafka,
        newSink: () => new TransactionalSink(kafka, transactionalId as string, groupId, cfg.transactionTimeoutMs),
        async committedOffsets(t) {
          const [res] = await admin.fetchOffsets({ groupId, topics: [t] });
          return new Map((res?.partitions ?? []).map((x) => [x.partition, Number(x.offset)]));
        },
        async topicEnds(t) {
          const ends = await admin.fetchTopicOffsets(t);
          return new Map(ends.map((e) => [e.partition, { low: Number(e.low), high: Number(e.high) }]));
        },
        seek,
        pause: (t, ps) => consumer.pause([{ topic: t, ...(ps ? { partitions: ps } : {}) }]),
        resume: (t, ps) => consumer.resume([{ topic: t, ...(ps ? { partitions: ps } : {}) }]),
        breaker,
        onActive() {
          if (status === 'starting') setStatus('ready');
          readyResolve();
        },
      })
    : undefined;

  const startWorker = (t: string, p: number) => {
    // a partition paused by an earlier owner in this process stays paused in kafkajs: clear it
    consumer.resume([{ topic: t, partitions: [p] }]);
    const w = new PartitionWorker(host, t, p);
    workers.set(tp(t, p), w);
    return w;
  };

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    if (status === 'stopping' || status === 'stopped') return;
    const assigned = new Set(topics.flatMap((t) => (payload.memberAssignment[t] ?? []).map((p) => tp(t, p))));
    const revoked: { topic: string; partition: number }[] = [];
    const added: { topic: string; partition: number }[] = [];
    if (merged) {
      merged.assign([...(payload.memberAssignment[stage.input.topic] ?? [])].sort((a, b) => a - b));
    } else {
      for (const [k, w] of workers) {
        if (assigned.has(k)) w.invalidate();
        else {
          workers.delete(k);
          revoked.push({ topic: w.topic, partition: w.partition });
          void w.close(cfg.shutdownTimeoutMs);
        }
      }
      for (const t of topics) {
        for (const p of payload.memberAssignment[t] ?? []) {
          if (workers.has(tp(t, p))) continue;
          startWorker(t, p);
          added.push({ topic: t, partition: p });
        }
      }
    }
    publish('assignment', { stage: stage.name, assigned: added, revoked });
    if (merged) return;
    if (status === 'starting') setStatus('ready');
    readyResolve();
  });

  // a fetch that held only control records (commit markers) or aborted records never reaches
  // eachBatch: this event still says how far it got
  consumer.on(consumer.events.START_BATCH_PROCESS, ({ payload }) => {
    if (payload.batchSize !== 0 || status !== 'ready') return;
    const last = Number(payload.lastOffset);
    if (merged) merged.pushEmpty(payload.partition, last, Number(payload.offsetLag));
    else workers.get(tp(payload.topic, payload.partition))?.pushEmpty(Number(payload.firstOffset), last);
  });

  consumer.on(consumer.events.CRASH, ({ payload }) => {
    publish('error', { stage: stage.name, where: 'consumer', error: payload.error });
    if (!payload.restart) {
      failure = payload.error;
      setStatus('failed', String(payload.error));
      void stop().finally(() => doneReject(payload.error));
    }
  });

  const eachBatch = async ({ batch, isStale }: EachBatchPayload) => {
    if (status === 'stopping' || status === 'stopped') return;
    // a seek is pending for this partition: what this fetch returned is from before it
    if (isStale()) return;
    if (merged) {
      const high = Number(batch.highWatermark);
      merged.push(batch.partition, batch.messages, Number(batch.lastOffset()), high, Number(batch.offsetLag()));
      return;
    }
    const w = workers.get(tp(batch.topic, batch.partition)) ?? startWorker(batch.topic, batch.partition);
    w.push(batch.messages, Number(batch.highWatermark));
    await w.admit();
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (status !== 'failed') setStatus('stopping');
      try {
        consumer.pause(topics.map((topic) => ({ topic })));
      } catch {}
      const closing = [...workers.values()].map((w) => w.close(cfg.shutdownTimeoutMs));
      if (merged) closing.push(merged.close(cfg.shutdownTimeoutMs));
      workers.clear();
      await Promise.allSettled(closing);
      await consumer.disconnect().catch(() => {});
      await admin.disconnect().catch(() => {});
      if (status !== 'failed') setStatus('stopped');
      readyResolve();
      doneResolve();
    })();
    return stopping;
  };

  await admin.connect();
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: cfg.fromBeginning });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: true,
    // a partition held in `admit` must not hold up the batches of the others from the same fetch
    partitionsConsumedConcurrently: !merged && cfg.backpressureBlockMs > 0 ? 64 : 1,
    eachBatch,
  });

  const partitions = (): PartitionHealth[] =>
    merged
      ? merged.partitions()
      : [...workers.values()].map((w) => ({
          topic: w.topic,
          partition: w.partition,
          buffered: w.buffered,
          paused: w.paused,
          nextOffset: w.next,
          lag: w.lag,
          committedBatches: w.committedBatches,
          lastCommitAt: w.lastCommitAt || null,
        }));

  return {
    groupId,
    transactionalId,
    ready: () => readyP,
    stop,
    done,
    health(): StageHealth {
      return {
        stage: stage.name,
        groupId,
        status,
        live: status !== 'failed',
        ready: status === 'ready' && (!merged || merged.active || merged.standby),
        partitions: partitions(),
        breakers: Object.fromEntries([...breakers].map(([k, b]) => [k, b.state])),
        ...(failure ? { error: String(failure) } : {}),
      };
    },
  };
}
