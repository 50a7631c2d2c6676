import type { Admin } from '@platformatic/kafka';
import type pg from 'pg';
import { GroupActiveError } from './errors.ts';
import { alterGroupOffsets, describeGroup, isInactive } from './kafka.ts';
import { writeStoredOffsets } from './postgres.ts';
import type { ResetPlan } from './types.ts';

export interface ApplyOptions {
  admin: Admin;
  /** Required for a plan whose store is PostgreSQL. */
  pool?: pg.Pool;
}

export interface ApplyResult {
  applied: number;
  /** PostgreSQL plans: the Kafka group's committed offsets were set too, so lag tools agree (or why not). */
  kafkaMirror?: 'ok' | string;
}

/**
 * Applies a plan. Just before writing, the group is described again: any member (a consumer
 * started since the plan) refuses the reset with GroupActiveError naming it, and nothing is
 * written. Kafka groups: the broker itself also rejects an admin commit while members exist.
 * The materializer: one PostgreSQL transaction (rows locked, unchanged since the plan, re-check,
 * upsert), then the Kafka group's offsets for `kafka-consumer-groups --describe`.
 */
export async function applyReset(plan: ResetPlan, opts: ApplyOptions): Promise<ApplyResult> {
  const { admin } = opts;
  const recheck = async () => {
    const g = await describeGroup(admin, plan.groupId);
    if (!isInactive(g)) throw new GroupActiveError(plan.groupId, g.state, g.members);
  };
  const offsets = plan.partitions.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.target }));
  if (plan.store === 'kafka') {
    await recheck();
    try {
      await alterGroupOffsets(admin, plan.groupId, offsets);
    } catch (e) {
      await recheck(); // a member that joined after the check: say so rather than the protocol error
      throw e;
    }
    return { applied: offsets.length };
  }
  if (!opts.pool) throw new Error('applyReset: this plan is for PostgreSQL offsets; pass a pool');
  await writeStoredOffsets(opts.pool, plan.groupId, plan.partitions, recheck);
  let kafkaMirror: string = 'ok';
  try {
    await alterGroupOffsets(admin, plan.groupId, offsets);
  } catch (e) {
    kafkaMirror = `PostgreSQL holds the new offsets (the materializer starts from them); the Kafka group's were not updated: ${(e as Error).message}`;
  }
  return { applied: offsets.length, kafkaMirror };
}
