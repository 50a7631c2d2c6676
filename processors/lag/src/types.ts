/**
 * The lag report: the one shape the CLI (`feedlog lag`), the API (`GET /v1/lag`, the dashboard's
 * event stream), the Prometheus gauges and replay's catch-up check all read.
 */

/** Burrow's evaluation vocabulary (linkedin/Burrow core/internal/evaluator), per partition and group. */
export type LagStatus = 'OK' | 'WARN' | 'ERR' | 'STOP' | 'STALL' | 'REWIND' | 'NOTFOUND';

/**
 * Burrow's numeric order (protocol.StatusConstant): the gauge `feedlog_consumer_lag_status` and
 * "worst partition" both use it.
 */
export const statusCode: Record<LagStatus, number> = {
  NOTFOUND: 0,
  OK: 1,
  WARN: 2,
  ERR: 3,
  STOP: 4,
  STALL: 5,
  REWIND: 6,
};

export interface PartitionLag {
  topic: string;
  partition: number;
  /** next offset the group will read (Kafka-committed, or PostgreSQL consumer_offsets for the materializer); null: none */
  committedOffset: number | null;
  logStartOffset: number;
  /** the high watermark (what `kafka-consumer-groups --describe` prints as LOG-END-OFFSET) */
  logEndOffset: number;
  /**
   * log end − committed offset, transaction markers included: exactly the LAG column of
   * `kafka-consumer-groups --describe` (with no committed offset: log end − log start)
   */
  lag: number;
  /**
   * true when lag > 0 but nothing after the committed offset can be consumed: only transaction
   * markers (and aborted records) up to the last stable offset. The status evaluation counts such a
   * partition as caught up (an idle exactly-once stage otherwise reads "lag 1" forever).
   */
  markerOnly: boolean;
  /** age of the oldest unconsumed record (now − its timestamp); 0 when caught up; null when unknown */
  lagSeconds: number | null;
  /** the member that owns the partition now, if any */
  owner?: { memberId: string; clientId: string; host: string };
  status: LagStatus;
  /** share of the evaluation window holding offset observations (Burrow's `complete`) */
  complete: number;
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
  /** the worst partition's status (Burrow's order: REWIND > STALL > STOP > ERR > WARN > OK) */
  status: LagStatus;
  /** sum of the partitions' lag (as Kafka's tool counts it) */
  lag: number;
  /** the oldest unconsumed record over the group's partitions */
  lagSeconds: number | null;
  /** records/s appended to the group's input topics and consumed by the group, over the window; null until two samples */
  rateIn: number | null;
  rateOut: number | null;
  partitions: PartitionLag[];
}

export interface LagReport {
  /** ISO time of the sample */
  at: string;
  /** wall time the sample took (ms) */
  tookMs: number;
  /** what could not be read this time (PostgreSQL down…); the figures are the rest */
  warnings: string[];
  groups: GroupLag[];
}
