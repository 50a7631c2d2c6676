/**
 * The lag report: the one shape the CLI (`feedlog lag`), the API (`GET /v1/lag`, the dashboard's
 * event stream), the Prometheus gauges and replay's catch-up check all read.
 */

/** Burrow's evaluation vocabulary (linkedin/Burrow core/internal/evaluator), per partition and group. */
export type LagStatus = 'OK' | 'WARN' | 'ERR' | 'STOP' | 'STALL' | 'REWIND' | 'NOTFOUND';

export interface PartitionLag {
  topic: string;
  partition: number;
  /** next offset the group will read (Kafka-committed, or PostgreSQL consumer_offsets for the materializer); null: none */
  committedOffset: number | null;
  logStartOffset: number;
  logEndOffset: number;
  /** records between the committed offset and the log end (a trailing transaction marker is not counted) */
  lag: number;
  /** age of the oldest unconsumed record (now − its timestamp); 0 when caught up; null when unknown */
  lagSeconds: number | null;
  /** the member that owns the partition now, if any */
  owner?: { memberId: string; clientId: string; host: string };
  status: LagStatus;
}

export interface GroupMember {
  memberId: string;
  clientId: string;
  host: string;
  assignments: Array<{ topic: string; partitions: number[] }>;
}

export interface GroupLag {
  group: string;
  /** where the committed offsets live: Kafka, or PostgreSQL for the materializer */
  offsetsIn: 'kafka' | 'postgres';
  /** feedlog stage and generation parsed from `feedlog.<stage>.g<N>`, when the name has that form */
  stage?: string;
  generation?: number;
  /** Kafka's group state (Stable, Empty, PreparingRebalance, Dead…); 'Unknown' for PostgreSQL groups with no Kafka group */
  state: string;
  members: GroupMember[];
  /** the worst partition's status */
  status: LagStatus;
  lag: number;
  lagSeconds: number | null;
  /** records/s appended to the group's input topics and consumed by the group, over the window; null until two samples */
  rateIn: number | null;
  rateOut: number | null;
  partitions: PartitionLag[];
}

export interface LagReport {
  /** ISO time of the sample */
  at: string;
  groups: GroupLag[];
}
