import type { Admin } from '@platformatic/kafka';
import type pg from 'pg';
import { GroupActiveError, ResetUsageError } from './errors.ts';
import {
  committedOffsets,
  describeGroup,
  isInactive,
  logBounds,
  offsetsForTimestamp,
  resolvePartitions,
  tpKey,
} from './kafka.ts';
import { hasStoredOffsets, storedOffsets } from './postgres.ts';
import { durationTimestamp, planPartition } from './targets.ts';
import type { OffsetStoreKind, PartitionFacts, ResetMode, ResetPlan, ResetScope, TopicPartition } from './types.ts';

/** The materializer's groups (`feedlog.materialize.g<N>`) keep their offsets in PostgreSQL. */
export const MATERIALIZER_GROUP = /^feedlog\.materialize\.g\d+$/;

export interface PlanOptions {
  admin: Admin;
  /** Needed for the materializer (`consumer_offsets`) and for `offsetsIn: 'auto'` to look there. */
  pool?: pg.Pool;
  groupId: string;
  /** Required except with `from-file` (whose lines name the partitions, as in Kafka). */
  scope?: ResetScope;
  mode: ResetMode;
  /** auto (default): PostgreSQL when the group is the materializer's or has `consumer_offsets` rows. */
  offsetsIn?: 'auto' | OffsetStoreKind;
  /** Plan for a group that has no offsets anywhere yet (replay starting a new generation). */
  allowNewGroup?: boolean;
  /** Plan even though the group has members (inspection only; applyReset refuses anyway). */
  allowActive?: boolean;
  /** "now" for --by-duration (default Date.now()). */
  now?: number;
}

/** Where the group's positions live. */
export async function resolveStore(
  offsetsIn: 'auto' | OffsetStoreKind,
  groupId: string,
  pool: pg.Pool | undefined,
): Promise<OffsetStoreKind> {
  if (offsetsIn !== 'auto') {
    if (offsetsIn === 'postgres' && !pool) throw new ResetUsageError('--offsets-in postgres needs a database');
    return offsetsIn;
  }
  if (MATERIALIZER_GROUP.test(groupId)) {
    if (!pool) throw new ResetUsageError(`${groupId} is the materializer's group: its offsets are in PostgreSQL`);
    return 'postgres';
  }
  return pool && (await hasStoredOffsets(pool, groupId)) ? 'postgres' : 'kafka';
}

/**
 * The reset plan: for each partition in scope, the current offset, the new one (chosen and
 * clamped exactly as `kafka-consumer-groups --reset-offsets` does) and the records that will be
 * read again or skipped. Reads only; refuses (GroupActiveError) while the group has members.
 */
export async function planReset(opts: PlanOptions): Promise<ResetPlan> {
  const { admin, groupId, mode } = opts;
  const plannedAt = opts.now ?? Date.now();
  const store = await resolveStore(opts.offsetsIn ?? 'auto', groupId, opts.pool);
  const group = await describeGroup(admin, groupId);
  if (!isInactive(group) && !opts.allowActive) throw new GroupActiveError(groupId, group.state, group.members);
  const current = store === 'kafka' ? await committedOffsets(admin, groupId) : await storedOffsets(opts.pool!, groupId);
  if (group.state === 'DEAD' && current.size === 0 && !opts.allowNewGroup) {
    throw new ResetUsageError(
      `unknown group ${groupId}: it has no members and no committed offsets${store === 'postgres' ? ' (none in consumer_offsets either)' : ''}`,
    );
  }

  const partitions = await partitionsInScope(opts, current);
  const bounds = await logBounds(admin, partitions);
  const timestamp =
    mode.kind === 'to-datetime'
      ? mode.timestamp
      : mode.kind === 'by-duration'
        ? durationTimestamp(plannedAt, mode.durationMs)
        : undefined;
  const atTime = timestamp === undefined ? undefined : await offsetsForTimestamp(admin, partitions, timestamp);
  const requested =
    mode.kind === 'from-file' ? new Map(mode.entries.map((e) => [tpKey(e.topic, e.partition), e.offset])) : undefined;

  const rows = partitions.map((tp) => {
    const k = tpKey(tp.topic, tp.partition);
    const facts: PartitionFacts = {
      ...tp,
      committed: current.get(k) ?? null,
      ...bounds.get(k)!,
      ...(atTime ? { atTimestamp: atTime.get(k) ?? null } : {}),
      ...(requested?.has(k) ? { requested: requested.get(k)! } : {}),
    };
    return planPartition(mode, store, facts);
  });
  rows.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  return { groupId, store, mode, plannedAt, groupState: group.state, members: group.members, partitions: rows };
}

async function partitionsInScope(opts: PlanOptions, current: Map<string, bigint>): Promise<TopicPartition[]> {
  const { admin, scope, mode } = opts;
  // Kafka validates the scope's partitions even with --from-file, then resets the file's partitions.
  const scoped =
    scope?.kind === 'topics'
      ? await resolvePartitions(admin, scope.topics)
      : scope?.kind === 'all-topics'
        ? // --all-topics: the partitions the group has committed (or stored) offsets for
          [...current.keys()].map((k) => {
            const [topic, partition] = k.split('\u0000') as [string, string];
            return { topic, partition: Number(partition) };
          })
        : undefined;
  if (mode.kind === 'from-file') {
    if (!mode.entries.length) throw new ResetUsageError('the offsets file has no lines');
    return resolvePartitions(
      admin,
      mode.entries.map((e) => ({ topic: e.topic, partitions: [e.partition] })),
    );
  }
  if (!scoped) throw new ResetUsageError('one scope is required: --all-topics or --topic (unless --from-file)');
  return scoped;
}
