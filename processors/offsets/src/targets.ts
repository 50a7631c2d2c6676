import { NoCommittedOffsetError } from './errors.ts';
import type { OffsetStoreKind, PartitionFacts, PlannedPartition, ResetMode } from './types.ts';

/**
 * Kafka's `checkOffsetsRange`: above the log end → the log end; otherwise below the log start →
 * the log start. Used for --to-offset, --shift-by and --from-file only (as in Kafka).
 */
export function clampToLog(offset: bigint, logStart: bigint, logEnd: bigint): bigint {
  if (offset > logEnd) return logEnd;
  if (offset < logStart) return logStart;
  return offset;
}

/**
 * Where a consumer resumes today. A Kafka group without a committed offset: unknown (Kafka's tool
 * assumes the log end for --to-current). The materializer without a `consumer_offsets` row starts
 * at the log start (it seeks there), so that is its position.
 */
export function resumeFrom(store: OffsetStoreKind, f: PartitionFacts): bigint | null {
  if (f.committed !== null) return f.committed;
  return store === 'postgres' ? f.logStart : null;
}

/** The new offset of one partition, exactly as `kafka-consumer-groups --reset-offsets` chooses it. */
export function targetOffset(
  mode: ResetMode,
  store: OffsetStoreKind,
  f: PartitionFacts,
): { target: bigint; clamped: boolean } {
  const clamp = (o: bigint) => {
    const target = clampToLog(o, f.logStart, f.logEnd);
    return { target, clamped: target !== o };
  };
  const base = resumeFrom(store, f);
  switch (mode.kind) {
    case 'to-earliest':
      return { target: f.logStart, clamped: false };
    case 'to-latest':
      return { target: f.logEnd, clamped: false };
    case 'to-current':
      // Kafka: a partition without a committed offset goes to the log end.
      return { target: base ?? f.logEnd, clamped: false };
    case 'to-offset':
      return clamp(mode.offset);
    case 'shift-by':
      if (base === null) {
        throw new NoCommittedOffsetError(
          `cannot shift ${f.topic}:${f.partition}: the group has no committed offset there (use --to-offset or --to-earliest)`,
        );
      }
      return clamp(base + mode.by);
    case 'to-datetime':
    case 'by-duration':
      // No record at or after the time: Kafka falls back to the log end ("latest known offset"). Not clamped.
      return { target: f.atTimestamp ?? f.logEnd, clamped: false };
    case 'from-file':
      return clamp(f.requested ?? f.logEnd);
  }
}

/** One planned row: the target, and how many records the consumer will read again (or skip). */
export function planPartition(mode: ResetMode, store: OffsetStoreKind, f: PartitionFacts): PlannedPartition {
  const { target, clamped } = targetOffset(mode, store, f);
  const from = resumeFrom(store, f);
  return {
    topic: f.topic,
    partition: f.partition,
    current: f.committed,
    resumeFrom: from,
    target,
    logStart: f.logStart,
    logEnd: f.logEnd,
    reprocess: from === null ? null : from - target,
    clamped,
  };
}

/** Kafka's --by-duration: `now − duration` in ms. */
export function durationTimestamp(now: number, durationMs: number): number {
  return Math.floor(now - durationMs);
}
