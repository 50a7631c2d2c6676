import { createKafka, fetchMaxWaitOverride, loadConfig } from '@feedlog/common';
import type { Kafka } from 'kafkajs';
import { Breaker } from './breaker.ts';
import { createStageClient } from './client/index.ts';
import type { BatchPayload, ClientAdmin, ClientConsumer, StageClient } from './client/types.ts';
import type { Stage, StageConfig } from './define-stage.ts';
import { runtimeEnv } from './env.ts';
import { AtLeastOnceSink, type Sink, TransactionalSink, transactionalIdFor } from './eos.ts';
import type { PartitionHealth, StageHealth, StageStatus } from './health.ts';
import { publish } from './instrumentation.ts';
import { MergeWorker } from './merge-worker.ts';
import { PartitionWorker, type WorkerHost } from './partition-worker.ts';
import { StoreSink } from './store-sink.ts';

export interface RunOptions {
  /** a kafkajs client; default: createKafka(loadConfig()). The kafkajs backend uses it, and a
   * merge stage's `onAssigned` gets it (cluster restores its changelog with it) */
  kafka?: Kafka;
  /** the runtime's Kafka client; default: FEEDLOG_KAFKA_CLIENT's (kafkajs: over `kafka`) */
  client?: StageClient;
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
  const env = runtimeEnv.parse();
  const cfg = withEnvOverrides(stage.config, env);
  const clientId = opts.clientId ?? `feedlog-${stage.name}`;
  const kafka = opts.kafka ?? createKafka(loadConfig(), { clientId });
  const client = opts.client ?? (await createStageClient(env.FEEDLOG_KAFKA_CLIENT, kafka, clientId));
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

  const admin: ClientAdmin = client.admin();
  const consumer: ClientConsumer = client.consumer({
    groupId,
    sessionTimeout: cfg.sessionTimeoutMs,
    heartbeatInterval: cfg.heartbeatIntervalMs,
    maxWaitTimeInMs: fetchMaxWaitOverride() ?? cfg.maxWaitTimeMs,
    // one fetch is what a paused partition can still add to its buffer: keep it within the bound
    maxBytesPerPartition: cfg.maxBytesPerPartition || Math.max(64 * 1024, Math.min(1024 * 1024, cfg.buffer.maxBytes)),
    ...(stage.merge ? { singleMemberSince: Date.now() } : {}),
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
      if (stage.store) return new StoreSink(client, consumer, stage.store, stage.name);
      if (cfg.mode === 'at-least-once') return new AtLeastOnceSink(client, consumer);
      return new TransactionalSink(
        client,
        transactionalIdFor(stage.name, stage.generation, t, p),
        groupId,
        cfg.transactionTimeoutMs,
      );
    },
    async committedOffset(t, p) {
      if (stage.store) return stage.store.committedOffset(t, p);
      return (await admin.committedOffsets(groupId, t)).get(p) ?? -1;
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
        newSink: () => new TransactionalSink(client, transactionalId as string, groupId, cfg.transactionTimeoutMs),
        committedOffsets: (t) => admin.committedOffsets(groupId, t),
        topicEnds: (t) => admin.topicEnds(t),
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

  const onGroupJoin = (memberAssignment: Record<string, number[]>) => {
    if (status === 'stopping' || status === 'stopped') return;
    const assigned = new Set(topics.flatMap((t) => (memberAssignment[t] ?? []).map((p) => tp(t, p))));
    const revoked: { topic: string; partition: number }[] = [];
    const added: { topic: string; partition: number }[] = [];
    if (merged) {
      merged.assign([...(memberAssignment[stage.input.topic] ?? [])].sort((a, b) => a - b));
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
        for (const p of memberAssignment[t] ?? []) {
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
  };

  // a fetch that held only control records (commit markers) or aborted records
  const onEmptyFetch = (payload: {
    topic: string;
    partition: number;
    firstOffset: string;
    lastOffset: string;
    offsetLag: string;
  }) => {
    if (status !== 'ready') return;
    const last = Number(payload.lastOffset);
    if (merged) merged.pushEmpty(payload.partition, last, Number(payload.offsetLag));
    else workers.get(tp(payload.topic, payload.partition))?.pushEmpty(Number(payload.firstOffset), last);
  };

  const onCrash = (error: unknown, restart: boolean) => {
    publish('error', { stage: stage.name, where: 'consumer', error });
    if (!restart) {
      failure = error;
      setStatus('failed', String(error));
      void stop().finally(() => doneReject(error));
    }
  };

  const eachBatch = async ({ batch, isStale }: BatchPayload) => {
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
      try {
        await stage.close?.();
      } catch {}
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
  await consumer.run({
    topics,
    fromBeginning: cfg.fromBeginning,
    // a partition held in `admit` must not hold up the batches of the others from the same fetch
    partitionsConsumedConcurrently: !merged && cfg.backpressureBlockMs > 0 ? 64 : 1,
    handlers: { onGroupJoin, onEmptyFetch, onCrash, eachBatch },
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
