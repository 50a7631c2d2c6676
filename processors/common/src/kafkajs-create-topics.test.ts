import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/**
 * kafkajs 2.2.4 `admin.createTopics({ waitForLeaders: true })` polls the controller's metadata until
 * the new topics have leaders, but it retried only LEADER_NOT_AVAILABLE: a broker that had not yet
 * applied the new topic answered UNKNOWN_TOPIC_OR_PARTITION and createTopics threw "This server
 * does not host this topic-partition" for a topic it had just created (a CI run failed on it).
 * patches/kafkajs+2.2.4.patch treats that answer as "not ready yet". This drives createTopics with
 * a fake cluster whose broker answers UNKNOWN_TOPIC_OR_PARTITION twice; it fails unpatched.
 */
const require = createRequire(import.meta.url);
const createAdmin = require('kafkajs/src/admin/index.js') as (o: unknown) => {
  createTopics(o: { topics: { topic: string }[]; waitForLeaders?: boolean; timeout?: number }): Promise<boolean>;
};
const { KafkaJSProtocolError } = require('kafkajs/src/errors.js') as {
  KafkaJSProtocolError: new (e: unknown) => Error;
};

function protocolError(type: string, code: number, message: string): Error {
  return new KafkaJSProtocolError({ message, type, code, retriable: true });
}

function harness(metadataAnswers: (Error | null)[]) {
  let metadataCalls = 0;
  const broker = {
    async createTopics() {},
    async metadata(topics: string[]) {
      const answer = metadataAnswers[metadataCalls++] ?? null;
      if (answer) throw answer;
      return { topicMetadata: topics.map((topic) => ({ topic, partitionMetadata: [] })) };
    },
  };
  const logger = {
    namespace: () => logger,
    info() {},
    warn() {},
    error() {},
    debug() {},
  };
  const admin = createAdmin({
    logger,
    retry: { retries: 0 },
    cluster: { refreshMetadata: async () => {}, findControllerBroker: async () => broker },
  });
  return { admin, calls: () => metadataCalls };
}

describe('kafkajs createTopics waitForLeaders (patched)', () => {
  it('waits through UNKNOWN_TOPIC_OR_PARTITION from a broker that has not applied the topic yet', async () => {
    const unknown = () =>
      protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3, 'This server does not host this topic-partition');
    const h = harness([unknown(), unknown()]);
    await expect(h.admin.createTopics({ topics: [{ topic: 't' }], waitForLeaders: true })).resolves.toBe(true);
    expect(h.calls()).toBe(3);
  });

  it('still waits through LEADER_NOT_AVAILABLE and still fails on other errors', async () => {
    const h = harness([protocolError('LEADER_NOT_AVAILABLE', 5, 'no leader')]);
    await expect(h.admin.createTopics({ topics: [{ topic: 't' }] })).resolves.toBe(true);
    expect(h.calls()).toBe(2);
    const bad = harness([protocolError('TOPIC_AUTHORIZATION_FAILED', 29, 'not authorized')]);
    await expect(bad.admin.createTopics({ topics: [{ topic: 't' }] })).rejects.toThrow('not authorized');
    expect(bad.calls()).toBe(1);
  });
});
