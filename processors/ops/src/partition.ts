import { type Admin, Partitioners } from 'kafkajs';

// The producers (API sink, stages, SDK) all use kafkajs' default partitioner (Java-compatible
// murmur2 of the key): the same function tells which partition holds a key's records.
const partitioner = Partitioners.DefaultPartitioner();

/** Partition of `key` in each topic, by the producers' partitioner over the topic's current partitions. */
export async function partitionsOfKey(admin: Admin, topics: string[], key: string): Promise<Map<string, number>> {
  const meta = await admin.fetchTopicMetadata({ topics });
  const out = new Map<string, number>();
  for (const t of meta.topics) {
    const partitionMetadata = t.partitions.map((p) => ({
      partitionId: p.partitionId,
      leader: p.leader,
      partitionErrorCode: p.partitionErrorCode,
      replicas: p.replicas,
      isr: p.isr,
    }));
    out.set(t.name, partitioner({ topic: t.name, partitionMetadata, message: { key, value: null } }));
  }
  return out;
}
