import { type Admin, AssignerProtocol, type GroupDescription } from 'kafkajs';
import type pg from 'pg';
import type { GroupMember } from './types.ts';

/** Which groups a monitor reports: exact names, a pattern, or a predicate; all groups when absent. */
export type GroupFilter = readonly string[] | RegExp | ((group: string) => boolean);

/** Names as operators type them: exact, or a prefix ending in `*` (`feedlog.*`); undefined: all groups. */
export function groupFilter(names: readonly string[] | undefined): GroupFilter | undefined {
  if (!names?.length) return undefined;
  return (g: string) => names.some((n) => (n.endsWith('*') ? g.startsWith(n.slice(0, -1)) : g === n));
}

export function matches(filter: GroupFilter | undefined, group: string): boolean {
  if (!filter) return true;
  if (filter instanceof RegExp) return filter.test(group);
  if (typeof filter === 'function') return filter(group);
  return (filter as readonly string[]).includes(group);
}

/** One group's positions as read now, before log offsets and evaluation. */
export interface RawGroup {
  group: string;
  offsetsIn: 'kafka' | 'postgres';
  state: string;
  members: GroupMember[];
  /** topic → partition → next offset (null: assigned, nothing committed) */
  committed: Map<string, Map<number, number | null>>;
}

/** group → topic → partition → next offset (null: nothing committed) */
export type CommittedOffsets = Map<string, Map<string, Map<number, number | null>>>;

/**
 * Every group's state, members and committed offsets: one ListGroups, one DescribeGroups for all
 * groups, one multi-group OffsetFetch (`readCommitted`, OffsetFetch v8+: every group in one
 * request per coordinator), one query on `consumer_offsets`. A group with rows in
 * `consumer_offsets` (the materializer) takes its positions from PostgreSQL, where it stores them
 * with the rows they produced; its Kafka group, if any, still gives state and members.
 */
export async function collectGroups(
  admin: Admin,
  readCommitted: (groups: string[]) => Promise<CommittedOffsets>,
  pool: pg.Pool | undefined,
  filter?: GroupFilter,
  warnings: string[] = [],
): Promise<RawGroup[]> {
  const [listed, pgOffsets] = await Promise.all([admin.listGroups(), readPgOffsets(pool, warnings)]);
  const kafkaGroups = listed.groups
    .filter((g) => g.protocolType === 'consumer' || g.protocolType === '')
    .map((g) => g.groupId)
    .filter((g) => matches(filter, g));
  const pgGroups = [...pgOffsets.keys()].filter((g) => matches(filter, g));
  const described = new Map<string, GroupDescription>();
  const [descriptions, fromKafka] = await Promise.all([
    kafkaGroups.length ? admin.describeGroups(kafkaGroups) : { groups: [] },
    readCommitted(kafkaGroups.filter((g) => !pgOffsets.has(g))),
  ]);
  for (const d of descriptions.groups) described.set(d.groupId, d);
  const names = [...new Set([...kafkaGroups, ...pgGroups])].sort();
  return names.map((group) => {
    const d = described.get(group);
    const members = (d?.members ?? []).map(member);
    const fromPg = pgOffsets.get(group);
    const committed = new Map<string, Map<number, number | null>>();
    if (fromPg) {
      for (const [topic, parts] of fromPg) committed.set(topic, new Map(parts));
    } else {
      for (const [topic, parts] of fromKafka.get(group) ?? []) committed.set(topic, new Map(parts));
    }
    // assigned partitions with nothing committed yet are shown too, as Kafka's tool does
    for (const m of members) {
      for (const a of m.assignments) {
        const parts = committed.get(a.topic) ?? new Map<number, number | null>();
        for (const p of a.partitions) if (!parts.has(p)) parts.set(p, null);
        committed.set(a.topic, parts);
      }
    }
    // a group listed by Kafka with offsets for no topic at all (e.g. a transactional id's
    // leftovers) still appears, empty, so its state is visible
    return {
      group,
      offsetsIn: fromPg ? ('postgres' as const) : ('kafka' as const),
      state: d?.state ?? 'Unknown',
      members,
      committed,
    };
  });
}

function member(m: GroupDescription['members'][number]): GroupMember {
  let assignments: GroupMember['assignments'] = [];
  if (m.memberAssignment?.length) {
    const decoded = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
    assignments = Object.entries(decoded?.assignment ?? {})
      .map(([topic, partitions]) => ({ topic, partitions: [...partitions].sort((a, b) => a - b) }))
      .sort((a, b) => a.topic.localeCompare(b.topic));
  }
  return { memberId: m.memberId, clientId: m.clientId, host: m.clientHost, assignments };
}

/** group → topic → partition → next offset, from the materializer's table; empty when the table is absent. */
async function readPgOffsets(
  pool: pg.Pool | undefined,
  warnings: string[],
): Promise<Map<string, Map<string, Map<number, number>>>> {
  const out = new Map<string, Map<string, Map<number, number>>>();
  if (!pool) return out;
  let rows: { group_id: string; topic: string; partition: number; next_offset: string }[];
  try {
    rows = (
      await pool.query<{ group_id: string; topic: string; partition: number; next_offset: string }>(
        'SELECT group_id, topic, partition, next_offset FROM consumer_offsets',
      )
    ).rows;
  } catch (e) {
    // not migrated (42P01): no materializer offsets to show. PostgreSQL down: the Kafka groups are
    // still worth reporting (an outage is when operators look), the materializer then shows the
    // offsets it mirrors into its Kafka group, and the report says so.
    if ((e as { code?: string }).code !== '42P01') {
      warnings.push(
        `PostgreSQL consumer_offsets unreadable (${(e as Error).message}); the materializer shows its Kafka-mirrored offsets`,
      );
    }
    return out;
  }
  for (const r of rows) {
    const topics = out.get(r.group_id) ?? new Map<string, Map<number, number>>();
    const parts = topics.get(r.topic) ?? new Map<number, number>();
    parts.set(r.partition, Number(r.next_offset));
    topics.set(r.topic, parts);
    out.set(r.group_id, topics);
  }
  return out;
}
