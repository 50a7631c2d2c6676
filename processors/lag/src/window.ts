import type { Observation } from './evaluate.ts';

/**
 * The sliding window Burrow's storage keeps per partition (core/internal/storage/inmemory.go): a
 * ring of `intervals` offset commits with the lag at each, commits closer than `minDistanceMs` to
 * the previous one replacing it (keeping the earlier time), and a ring of recent log-end offsets.
 *
 * Kafka does not tell a poller when a group committed, so an observation is recorded when the
 * committed offset changed since the last sample, or when a live member owns the partition (a
 * running consumer that commits the same offset again is what Burrow calls stalled). A partition
 * nobody owns whose offset does not move gets no new observation: its commits have stopped.
 */
export interface WindowOptions {
  /** observations kept per partition (Burrow's `intervals`, default 10) */
  intervals: number;
  /** observations closer than this replace the previous one (Burrow's `min-distance`, default 1 s) */
  minDistanceMs: number;
}

export class PartitionWindow {
  readonly offsets: Observation[] = [];
  readonly brokerEnds: number[] = [];
  /** samples that saw this partition */
  samples = 0;

  constructor(private readonly opts: WindowOptions) {}

  /** Records one sample; `owned`: a live group member has the partition assigned. */
  add(sample: Observation & { end: number; owned: boolean }): void {
    this.samples++;
    push(this.brokerEnds, sample.end, this.opts.intervals);
    const prev = this.offsets[this.offsets.length - 1];
    if (prev && prev.offset === sample.offset && !sample.owned) return;
    const o: Observation = { offset: sample.offset, at: sample.at, lag: sample.lag };
    if (prev && sample.at - prev.at < this.opts.minDistanceMs) {
      // Burrow's mergeFrequentCommitIntoPrevious: keep the earlier time so frequent commits still
      // open a new slot once min-distance has passed
      this.offsets[this.offsets.length - 1] = { ...o, at: prev.at };
      return;
    }
    push(this.offsets, o, this.opts.intervals);
  }

  /** Burrow's `complete`: share of the ring holding observations. */
  get complete(): number {
    return this.offsets.length / this.opts.intervals;
  }
}

/** Group totals over time, for records/s in (appended to its partitions) and out (committed). */
export class RateWindow {
  private readonly points: { at: number; end: number; committed: number }[] = [];

  constructor(private readonly size: number) {}

  add(at: number, end: number, committed: number): void {
    push(this.points, { at, end, committed }, this.size);
  }

  /** records/s over the window; null until two samples. Negative (a rewind, a reset) reads 0. */
  rates(): { rateIn: number | null; rateOut: number | null } {
    const first = this.points[0];
    const last = this.points[this.points.length - 1];
    if (!first || !last || last.at <= first.at) return { rateIn: null, rateOut: null };
    const s = (last.at - first.at) / 1000;
    return {
      rateIn: Math.max(0, (last.end - first.end) / s),
      rateOut: Math.max(0, (last.committed - first.committed) / s),
    };
  }
}

function push<T>(ring: T[], v: T, size: number): void {
  ring.push(v);
  while (ring.length > size) ring.shift();
}
