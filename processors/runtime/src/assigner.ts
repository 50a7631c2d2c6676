import kafkajs, { type Assigner, type PartitionAssigner } from 'kafkajs';

const { AssignerProtocol } = kafkajs;

/**
 * All input partitions to one member: the one that started first (start time in the member
 * metadata), ties by member id. Every other member is a hot standby with no partitions: for a
 * `merge` stage, whose state is global (splitting partitions across instances would split it).
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
