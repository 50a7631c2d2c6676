import type { Kafka } from 'kafkajs';
import { singleMemberAssigner } from '../assigner.ts';
import type { ClientAdmin, ClientConsumer, ConsumerOptions, StageClient } from './types.ts';

/** The kafkajs backend: kafkajs' own producer, consumer and admin, as the runtime always used them. */
export function kafkajsClient(kafka: Kafka): StageClient {
  return {
    name: 'kafkajs',
    producer: (o) => kafka.producer(o),
    consumer: (o) => kafkajsConsumer(kafka, o),
    admin: () => kafkajsAdmin(kafka),
  };
}

function kafkajsConsumer(kafka: Kafka, o: ConsumerOptions): ClientConsumer {
  const consumer = kafka.consumer({
    groupId: o.groupId,
    readUncommitted: false,
    sessionTimeout: o.sessionTimeout,
    heartbeatInterval: o.heartbeatInterval,
    maxWaitTimeInMs: o.maxWaitTimeInMs,
    maxBytesPerPartition: o.maxBytesPerPartition,
    allowAutoTopicCreation: false,
    ...(o.singleMemberSince === undefined ? {} : { partitionAssigners: [singleMemberAssigner(o.singleMemberSince)] }),
  });
  return {
    connect: () => consumer.connect(),
    disconnect: () => consumer.disconnect(),
    async run({ topics, fromBeginning, partitionsConsumedConcurrently, handlers }) {
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => handlers.onGroupJoin(payload.memberAssignment));
      // a fetch that held only control records (commit markers) or aborted records never reaches
      // eachBatch: this event still says how far it got
      consumer.on(consumer.events.START_BATCH_PROCESS, ({ payload }) => {
        if (payload.batchSize !== 0) return;
        handlers.onEmptyFetch({
          topic: payload.topic,
          partition: payload.partition,
          firstOffset: payload.firstOffset,
          lastOffset: payload.lastOffset,
          offsetLag: payload.offsetLag,
        });
      });
      consumer.on(consumer.events.CRASH, ({ payload }) => handlers.onCrash(payload.error, payload.restart));
      await consumer.subscribe({ topics, fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently,
        eachBatch: handlers.eachBatch,
      });
    },
    pause: (tps) => consumer.pause(tps),
    resume: (tps) => consumer.resume(tps),
    seek: (x) => consumer.seek(x),
    commitOffsets: (offsets) => consumer.commitOffsets(offsets),
  };
}

function kafkajsAdmin(kafka: Kafka): ClientAdmin {
  const admin = kafka.admin();
  return {
    connect: () => admin.connect(),
    disconnect: () => admin.disconnect(),
    async committedOffsets(groupId, topic) {
      const [res] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return new Map((res?.partitions ?? []).map((x) => [x.partition, Number(x.offset)]));
    },
    async topicEnds(topic) {
      const ends = await admin.fetchTopicOffsets(topic);
      return new Map(ends.map((e) => [e.partition, { low: Number(e.low), high: Number(e.high) }]));
    },
  };
}
