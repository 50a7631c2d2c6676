import { loadConfig } from '@feedlog/common';
import { Admin, FetchIsolationLevels, ListOffsetTimestamps } from '@platformatic/kafka';
import { ResetUsageError } from './errors.ts';
import type { GroupMember, TopicPartition, TopicSelector } from './types.ts';

/** `topic\0partition`: a map key for one partition. */
export const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** An admin client on the configured brokers (KAFKA_BROKERS). The caller closes it. */
export function createAdmin(brokers: string[] = loadConfig().kafka.brokers, clientId = 'feedlog-reset-offsets'): Admin {
  return new Admin({ clientId, bootstrapBrokers: brokers, retries: 3 });
}

/** Every partition of the selected topics; an unknown topic or partition is bad input. */
export async function resolvePartitions(admin: Admin, selectors: TopicSelector[]): Promise<TopicPartition[]> {
  const names = [...new Set(selectors.map((s) => s.topic))];
  const counts = await partitionCounts(admin, names);
  const out: TopicPartition[] = [];
  const seen = new Set<string>();
  for (const s of selectors) {
    const n = counts.get(s.topic)!;
    const parts = s.partitions ?? Array.from({ length: n }, (_, i) => i);
    for (const p of parts) {
      if (p >= n) throw new ResetUsageError(`topic ${s.topic} has no partition ${p} (it has ${n}: 0…${n - 1})`);
      const k = tpKey(s.topic, p);
      if (!seen.has(k)) out.push({ topic: s.topic, partition: p });
      seen.add(k);
    }
  }
  return out;
}

/** Partition count of each topic; names the unknown ones. */
export async function partitionCounts(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  if (!topics.length) return new Map();
  const existing = new Set(await admin.listTopics({ includeInternals: true }));
  const unknown = topics.filter((t) => !existing.has(t));
  if (unknown.length) throw new ResetUsageError(`unknown topic(s): ${unknown.join(', ')}`);
  const md = await admin.metadata({ topics, forceUpdate: true });
  return new Map(topics.map((t) => [t, md.topics.get(t)!.partitionsCount]));
}

type Spec = bigint; // ListOffsets timestamp: -2 earliest, -1 latest, or a time in ms

async function listOffsets(admin: Admin, tps: TopicPartition[], spec: Spec): Promise<Map<string, bigint>> {
  const byTopic = new Map<string, number[]>();
  for (const tp of tps) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
  if (!byTopic.size) return new Map();
  // READ_UNCOMMITTED, as Kafka's AdminClient: the log end is the high watermark, not the LSO.
  const res = await admin.listOffsets({
    isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED,
    topics: [...byTopic].map(([name, ps]) => ({
      name,
      partitions: ps.map((partitionIndex) => ({ partitionIndex, timestamp: spec })),
    })),
  });
  const out = new Map<string, bigint>();
  for (const t of res) for (const p of t.partitions) out.set(tpKey(t.name, p.partitionIndex), p.offset);
  return out;
}

/** Log start and log end (high watermark) of each partition. */
export async function logBounds(
  admin: Admin,
  tps: TopicPartition[],
): Promise<Map<string, { logStart: bigint; logEnd: bigint }>> {
  const [start, end] = await Promise.all([
    listOffsets(admin, tps, ListOffsetTimestamps.EARLIEST),
    listOffsets(admin, tps, ListOffsetTimestamps.LATEST),
  ]);
  return new Map(tps.map((tp) => [tpKey(tp.topic, tp.partition), bounds(start, end, tp)]));
}

function bounds(start: Map<string, bigint>, end: Map<string, bigint>, tp: TopicPartition) {
  const k = tpKey(tp.topic, tp.partition);
  const logStart = start.get(k);
  const logEnd = end.get(k);
  if (logStart === undefined || logEnd === undefined) {
    throw new Error(`no log offsets for ${tp.topic}:${tp.partition} (leader unavailable?)`);
  }
  return { logStart, logEnd };
}

/** First offset with a timestamp at or after `timestamp`, per partition; null where no record is. */
export async function offsetsForTimestamp(
  admin: Admin,
  tps: TopicPartition[],
  timestamp: number,
): Promise<Map<string, bigint | null>> {
  const found = await listOffsets(admin, tps, BigInt(timestamp));
  return new Map(
    tps.map((tp) => [tpKey(tp.topic, tp.partition), offsetOrNull(found.get(tpKey(tp.topic, tp.partition)))]),
  );
}

const offsetOrNull = (o: bigint | undefined) => (o === undefined || o < 0n ? null : o);

/** The group's committed offsets (partitions without one are absent). */
export async function committedOffsets(admin: Admin, groupId: string): Promise<Map<string, bigint>> {
  const [g] = await admin.listConsumerGroupOffsets({ groups: [groupId] });
  const out = new Map<string, bigint>();
  for (const t of g?.topics ?? []) {
    for (const p of t.partitions)
      if (p.committedOffset >= 0n) out.set(tpKey(t.name, p.partitionIndex), p.committedOffset);
  }
  return out;
}

/** The group's state and members (member id, client id, host), as `--describe --members` shows them. */
export async function describeGroup(admin: Admin, groupId: string): Promise<{ state: string; members: GroupMember[] }> {
  const g = (await admin.describeGroups({ groups: [groupId] })).get(groupId);
  if (!g) return { state: 'DEAD', members: [] };
  return {
    // 1.x spelled states EMPTY/DEAD, 2.x spells them as Kafka does (Empty, Dead): one spelling here
    state: g.state.toUpperCase(),
    members: [...g.members.values()].map((m) => ({ memberId: m.id, clientId: m.clientId, host: m.clientHost })),
  };
}

/** Kafka's rule: offsets can only be reset while the group is Empty or Dead (never existed). */
export const isInactive = (d: { state: string; members: GroupMember[] }): boolean =>
  (d.state === 'EMPTY' || d.state === 'DEAD') && d.members.length === 0;

/** Commit offsets as an admin (generation −1, no member): the broker rejects it while the group has members. */
export async function alterGroupOffsets(
  admin: Admin,
  groupId: string,
  offsets: { topic: string; partition: number; offset: bigint }[],
): Promise<void> {
  const byTopic = new Map<string, { partition: number; offset: bigint }[]>();
  for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o]);
  if (!byTopic.size) return;
  await admin.alterConsumerGroupOffsets({
    groupId,
    topics: [...byTopic].map(([name, ps]) => ({
      name,
      partitionOffsets: ps.map((p) => ({ partition: p.partition, offset: p.offset })),
    })),
  });
}
