import type { LagStatus } from './types.ts';

/**
 * Burrow's partition evaluation (linkedin/Burrow core/internal/evaluator/caching.go,
 * `calculatePartitionStatus` and rules 1–5), transcribed rule for rule. Pure: the window and the
 * clock are arguments, so the rules are unit-tested without a broker.
 */

export interface Observation {
  /** committed offset */
  offset: number;
  /** when it was observed (ms); Burrow's commit timestamp */
  at: number;
  /** lag at that time, with the transaction-marker allowance applied */
  lag: number;
}

/**
 * @param offsets the window, oldest first
 * @param brokerEnds recent log-end offsets (marker allowance applied), Burrow's broker offset ring
 * @param currentLag lag now, marker allowance applied
 */
export function partitionStatus(
  offsets: readonly Observation[],
  brokerEnds: readonly number[],
  currentLag: number,
  now: number,
  allowedLag = 0,
): LagStatus {
  if (offsets.length === 0) return 'OK';
  // a partition with no lag (beyond the allowance) is never in error
  if (currentLag <= allowedLag) return 'OK';
  // Stopped first: a problem even if the (possibly old) history had zero lag, unless the broker
  // offsets show the consumer was caught up recently
  if (offsetsStopped(offsets, now) && !recentLagZero(offsets, brokerEnds)) return 'STOP';
  // A rewind counts only until the consumer is back where it was before it
  const rewind = rewindIndex(offsets);
  if (rewind > 0 && !rewindRecovered(offsets, rewind)) return 'REWIND';
  if (lagAlwaysNotZero(offsets, allowedLag)) {
    if (offsetsStalled(offsets)) return 'STALL';
    if (lagNotDecreasing(offsets)) return 'WARN';
  }
  return 'OK';
}

/** Rule 1: the lag was above the allowance at every observation of the window. */
export function lagAlwaysNotZero(offsets: readonly Observation[], allowedLag: number): boolean {
  return offsets.every((o) => o.lag > allowedLag);
}

/** Rule 2: index of the first observation whose offset is lower than the one before; -1 when none. */
export function rewindIndex(offsets: readonly Observation[]): number {
  for (let i = 1; i < offsets.length; i++) if (offsets[i]!.offset < offsets[i - 1]!.offset) return i;
  return -1;
}

/** Rule 2, part 2: the consumer reached the offset it had before the rewind again. */
export function rewindRecovered(offsets: readonly Observation[], index: number): boolean {
  const before = offsets[index - 1]!.offset;
  for (let i = index; i < offsets.length; i++) if (offsets[i]!.offset >= before) return true;
  return false;
}

/** Rule 3: the time since the last observation exceeds the span of the window: commits stopped. */
export function offsetsStopped(offsets: readonly Observation[], now: number): boolean {
  const first = offsets[0]!.at;
  const last = offsets[offsets.length - 1]!.at;
  return now - last > last - first;
}

/** Rule 4: every observation has the same offset (with lag, per rule 1): stalled. */
export function offsetsStalled(offsets: readonly Observation[]): boolean {
  for (let i = 1; i < offsets.length; i++) if (offsets[i]!.offset !== offsets[i - 1]!.offset) return false;
  return true;
}

/** Rule 5: offsets advance but the lag never decreases between two observations: slow consumer. */
export function lagNotDecreasing(offsets: readonly Observation[]): boolean {
  for (let i = 1; i < offsets.length; i++) if (offsets[i]!.lag < offsets[i - 1]!.lag) return false;
  return true;
}

/** Burrow's checkIfRecentLagZero: a recent log end at or below the last committed offset. */
export function recentLagZero(offsets: readonly Observation[], brokerEnds: readonly number[]): boolean {
  const last = offsets[offsets.length - 1]!.offset;
  return brokerEnds.some((end) => end <= last);
}
