/** One partition of one topic. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/** `--topic T` (every partition) or `--topic T:0,2` (those partitions). */
export interface TopicSelector {
  topic: string;
  partitions?: number[];
}

/** Which partitions a reset covers (Kafka: `--all-topics` or repeated `--topic`). */
export type ResetScope = { kind: 'all-topics' } | { kind: 'topics'; topics: TopicSelector[] };

/** One line of a reset plan file: `topic,partition,offset` or `group,topic,partition,offset`. */
export interface CsvOffset extends TopicPartition {
  group?: string;
  offset: bigint;
}

/** Where the target offset comes from: exactly one of Kafka's reset specifications. */
export type ResetMode =
  | { kind: 'to-earliest' }
  | { kind: 'to-latest' }
  | { kind: 'to-current' }
  | { kind: 'to-offset'; offset: bigint }
  | { kind: 'shift-by'; by: bigint }
  | { kind: 'to-datetime'; timestamp: number }
  /** `now - duration`, resolved when the plan is made (as Kafka's tool does). */
  | { kind: 'by-duration'; durationMs: number }
  | { kind: 'from-file'; entries: CsvOffset[] };

/** Where a group's positions live: the Kafka group coordinator, or the materializer's `consumer_offsets` table. */
export type OffsetStoreKind = 'kafka' | 'postgres';

/** What the planner knows about one partition before choosing its target. */
export interface PartitionFacts extends TopicPartition {
  /** The committed (Kafka) or stored (PostgreSQL) offset; null when there is none. */
  committed: bigint | null;
  logStart: bigint;
  logEnd: bigint;
  /** First offset whose timestamp is at or after the requested time; null when no record is (datetime modes). */
  atTimestamp?: bigint | null;
  /** The offset a plan file asks for (from-file). */
  requested?: bigint;
}

/** A member of a consumer group, as `kafka-consumer-groups --describe --members` names it. */
export interface GroupMember {
  memberId: string;
  clientId: string;
  host: string;
}

export interface PlannedPartition extends TopicPartition {
  /** The committed/stored offset before the reset (null: none). */
  current: bigint | null;
  /** Where the consumer resumes today: `current`, or for the materializer without a row the log start. */
  resumeFrom: bigint | null;
  target: bigint;
  logStart: bigint;
  logEnd: bigint;
  /** resumeFrom − target: > 0 records read again, < 0 records skipped, null when unknown. */
  reprocess: bigint | null;
  /** The requested offset was outside [logStart, logEnd] and was moved to the nearer bound. */
  clamped: boolean;
}

export interface ResetPlan {
  groupId: string;
  store: OffsetStoreKind;
  mode: ResetMode;
  /** When the plan was made (ms); by-duration's `now`. */
  plannedAt: number;
  /** Group state when planned (Kafka's: Empty, Stable, Dead…). */
  groupState: string;
  /** Members when planned; applying refuses unless there are none at that moment too. */
  members: GroupMember[];
  partitions: PlannedPartition[];
}
