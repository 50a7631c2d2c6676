import { createKafka, loadConfig } from '@feedlog/common';
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { Breaker } from './breaker.ts';
import type { Stage } from './define-stage.ts';
import { AtLeastOnceSink, type Sink, TransactionalSink, transactionalIdFor } from './eos.ts';
import type { StageHealth, StageStatus } from './health.ts';
import { publish } from './instrumentation.ts';
import { PartitionWorker, type WorkerHost } from './partition-worker.ts';

export interface RunOptions {
  /** a kafkajs client; default: createKafka(loadConfig()) */
  kafka?: Kafka;
  clientId?: string;
}

export interface RunningStage {
  readonly groupId: string;
  health(): StageHealth;
  /** resolves once the group assigned this instance its partitions (possibly none) */
  ready(): Promise<void>;
  /** graceful: finish or abort open transactions, leave the group, close every client */
  stop(): Promise<void>;
  /** settles when the stage stops: resolves after stop(), rejects when the consumer crashed for good */
  done: Promise<void>;
}

/**
 * Run a stage against Kafka: a consumer group `feedlog.<stage>.g<generation>` reading
 * read_committed, one PartitionWorker per assigned partition, and (exactly-once) one
 * transactional producer per assigned partition, created on assignment and closed on revocation.
 */
export async function runStage<I, O>(stage: Stage<I, O>, opts: RunOptions = {}): Promise<RunningStage> {
  const cfg = stage.config;
  const kafka = opts.kafka ?? createKafka(loadConfig(), { clientId: opts.clientId ?? `feedlog-${stage.name}` });
  const topic = stage.input.topic;
  const groupId = stage.groupId;
  let status: StageStatus = 'starting';
  let failure: unknown;
  const workers = new Map<number, PartitionWorker>();
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
    maxWaitTimeInMs: cfg.maxWaitTimeMs,
    // one fetch is what a paused partition can still add to its buffer: keep it within the bound
    maxBytesPerPartition: Math.max(64 * 1024, Math.min(1024 * 1024, cfg.buffer.maxBytes)),
    allowAutoTopicCreation: false,
  });

  const host: WorkerHost = {
    stage: stage as Stage<unknown, unknown>,
    newSink(t, p): Sink {
      if (cfg.mode === 'at-least-once') return new AtLeastOnceSink(kafka, consumer, t, p);
      return new TransactionalSink(
        kafka,
        transactionalIdFor(stage.name, stage.generation, t, p),
        groupId,
        t,
        p,
        cfg.transactionTimeoutMs,
      );
    },
    async committedOffset(t, p) {
      const [res] = await admin.fetchOffsets({ groupId, topics: [t] });
      const off = res?.partitions.find((x) => x.partition === p)?.offset;
      return off === undefined ? -1 : Number(off);
    },
    seek: (t, p, offset) => consumer.seek({ topic: t, partition: p, offset: String(offset) }),
    pause: (t, p) => consumer.pause([{ topic: t, partitions: [p] }]),
    resume: (t, p) => consumer.resume([{ topic: t, partitions: [p] }]),
    breaker(name) {
      let b = breakers.get(name);
      if (!b) {
        b = new Breaker(name, cfg.breaker, (state) => publish('breaker', { stage: stage.name, breaker: name, state }));
        breakers.set(name, b);
      }
      return b;
    },
    onCommit() {},
  };

  const startWorker = (p: number) => {
    // a partition paused by an earlier owner in this process stays paused in kafkajs: clear it
    consumer.resume([{ topic, partitions: [p] }]);
    const w = new PartitionWorker(host, topic, p);
    workers.set(p, w);
    return w;
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

  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    if (status === 'stopping' || status === 'stopped') return;
    const assigned = new Set(payload.memberAssignment[topic] ?? []);
    const revoked: number[] = [];
    for (const [p, w] of workers) {
      if (assigned.has(p)) w.invalidate();
      else {
        workers.delete(p);
        revoked.push(p);
        void w.close(cfg.shutdownTimeoutMs);
      }
    }
    const added: number[] = [];
    for (const p of assigned) {
      if (!workers.has(p)) {
        startWorker(p);
        added.push(p);
      }
    }
    publish('assignment', {
      stage: stage.name,
      assigned: added.map((partition) => ({ topic, partition })),
      revoked: revoked.map((partition) => ({ topic, partition })),
    });
    if (status === 'starting') setStatus('ready');
    readyResolve();
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
    const w = workers.get(batch.partition) ?? startWorker(batch.partition);
    w.push(batch.messages, Number(batch.highWatermark));
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (status !== 'failed') setStatus('stopping');
      try {
        consumer.pause([{ topic }]);
      } catch {}
      const closing = [...workers.values()].map((w) => w.close(cfg.shutdownTimeoutMs));
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
  await consumer.subscribe({ topics: [topic], fromBeginning: cfg.fromBeginning });
  await consumer.run({ autoCommit: false, eachBatchAutoResolve: true, partitionsConsumedConcurrently: 1, eachBatch });

  return {
    groupId,
    ready: () => readyP,
    stop,
    done,
    health(): StageHealth {
      return {
        stage: stage.name,
        groupId,
        status,
        live: status !== 'failed',
        ready: status === 'ready',
        partitions: [...workers.values()].map((w) => ({
          topic: w.topic,
          partition: w.partition,
          buffered: w.buffered,
          paused: w.paused,
          nextOffset: w.next,
          lag: w.lag,
          committedBatches: w.committedBatches,
          lastCommitAt: w.lastCommitAt || null,
        })),
        breakers: Object.fromEntries([...breakers].map(([k, b]) => [k, b.state])),
        ...(failure ? { error: String(failure) } : {}),
      };
    },
  };
}
