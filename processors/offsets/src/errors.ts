import type { GroupMember } from './types.ts';

/** Exit codes of `feedlog reset-offsets` (documented in the README). */
export const EXIT = {
  /** The plan was printed (dry run) or applied. */
  done: 0,
  /** Broker, database or I/O trouble, or the offsets moved under us: nothing (more) was applied. */
  failed: 1,
  /** Bad input: unknown group or topic, bad duration/datetime/CSV, conflicting or missing options. */
  usage: 2,
  /** The group has active members (named in the message): nothing was applied. */
  refused: 3,
} as const;

/** Bad input: said plainly, exit code 2. */
export class ResetUsageError extends Error {
  override name = 'ResetUsageError';
}

/** The group has members: resetting under a running consumer would be overwritten by its next commit. */
export class GroupActiveError extends Error {
  override name = 'GroupActiveError';
  constructor(
    readonly groupId: string,
    readonly state: string,
    readonly members: GroupMember[],
  ) {
    super(
      `group ${groupId} has ${members.length} active member(s) (state ${state}); stop them first: ${members
        .map((m) => `${m.memberId} (client ${m.clientId}, host ${m.host})`)
        .join('; ')}`,
    );
  }
}

/** The stored offsets changed between planning and applying (a consumer ran in between). */
export class OffsetsMovedError extends Error {
  override name = 'OffsetsMovedError';
}

/** Shift-by needs a committed offset (Kafka's tool refuses the same way). */
export class NoCommittedOffsetError extends ResetUsageError {
  override name = 'NoCommittedOffsetError';
}
