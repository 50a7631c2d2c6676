import { randomUUID } from 'node:crypto';
import { loadSchemas, RegistryRestClient, registerAll } from '@feedlog/schemas';
import { applyTopics, declareFeedlog } from '@feedlog/topics';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { uniqueName } from './index.ts';
import { registryUrl } from './registry.ts';

/**
 * Topic isolation for tests on the shared broker: every test gets its own prefix, creates the
 * feedlog topics (and, when asked, the registry subjects) under it, and deletes them afterwards.
 */

/** A unique topic prefix for one test run (a valid stage-name prefix too). */
export function uniquePrefix(what: string): string {
  return `${uniqueName(what).replace(/[^a-z0-9.]/gi, '')}.`;
}

/** Create every feedlog topic under `prefix` (topics as code, replication capped to the broker count). */
export async function applyPrefixedTopics(kafka: Kafka, prefix: string): Promise<string[]> {
  const admin = kafka.admin();
  try {
    // idempotent; a broker busy creating other tests' topics may answer a metadata request with
    // UNKNOWN_TOPIC_OR_PARTITION for a moment
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await applyTopics({ admin, prefix });
        return r.applied.map((a) => a.topic);
      } catch (e) {
        if (attempt >= 4) throw e;
        await new Promise((r) => setTimeout(r, 1_000 * attempt));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** Register every feedlog schema under the `prefix`ed subjects of the harness's registry. */
export async function registerPrefixedSubjects(prefix: string, url = registryUrl()): Promise<void> {
  await registerAll(new RegistryRestClient(url), { schemas: loadSchemas({ prefix }) });
}

/** A fresh prefix with every feedlog topic and subject under it: one call per isolated test. */
export async function isolatedTopics(kafka: Kafka, name: string): Promise<string> {
  const prefix = uniquePrefix(name);
  await applyPrefixedTopics(kafka, prefix);
  await registerPrefixedSubjects(prefix);
  return prefix;
}

export async function deletePrefixedTopics(kafka: Kafka, prefix: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const names = declareFeedlog({ prefix }).topics.map((t) => t.name);
  await admin.deleteTopics({ topics: names }).catch(() => {});
  await admin.disconnect();
}

/**
 * Every committed record of `topic` (read_committed) from the beginning, until at least
 * `expected` arrived and the topic was quiet for `quietMs`, or `timeoutMs` passed.
 */
export async function readCommitted(
  kafka: Kafka,
  topic: string,
  expected: number,
  opts: { timeoutMs?: number; quietMs?: number } = {},
): Promise<KafkaMessage[]> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const quietMs = opts.quietMs ?? 1_500;
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 200 });
  const out: KafkaMessage[] = [];
  let last = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      out.push(...batch.messages);
      last = Date.now();
    },
  });
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      if (out.length >= expected && Date.now() - last >= quietMs) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** How many records each key has (exactly-once checks: every count is 1). */
export function countByKey(ms: KafkaMessage[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of ms) {
    const k = x.key?.toString() ?? '';
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}
