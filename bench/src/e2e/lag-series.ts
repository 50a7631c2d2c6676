// Consumer lag over the run, sampled with the project's LagMonitor (the figures `feedlog lag`
// and the dashboard show): total lag (records) per pipeline group every `intervalMs`.
import { createKafka, type FeedlogConfig } from '@feedlog/common';
import { LagMonitor } from '@feedlog/lag';
import type pg from 'pg';

export interface LagPoint {
  /** seconds since the run's start */
  t: number;
  /** group → records behind */
  lag: Record<string, number>;
}

export const PIPELINE_GROUP = /^feedlog\.(classify|cluster|embed|index|materialize)\.g\d+$/;

export class LagSeries {
  readonly points: LagPoint[] = [];
  private readonly monitor: LagMonitor;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    cfg: FeedlogConfig,
    pool: pg.Pool,
    private readonly t0: number,
    groups: (g: string) => boolean = (g) => PIPELINE_GROUP.test(g),
  ) {
    this.monitor = new LagMonitor({
      kafka: createKafka(cfg, { clientId: 'bench-e2e-lag' }),
      brokers: cfg.kafka.brokers,
      pool,
      groups,
      minDistanceMs: 0,
    });
  }

  start(intervalMs = 2_000): void {
    this.timer = setInterval(() => void this.sample(), intervalMs);
    void this.sample();
  }

  async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const r = await this.monitor.sample();
      const lag: Record<string, number> = {};
      for (const g of r.groups) lag[g.stage ?? g.group] = g.lag;
      this.points.push({ t: Number(((Date.now() - this.t0) / 1000).toFixed(1)), lag });
    } catch {
      // a missed sample is a gap in the chart, not a failed run
    } finally {
      this.busy = false;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.sample();
    await this.monitor.close();
  }

  maxLag(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of this.points) for (const [g, n] of Object.entries(p.lag)) out[g] = Math.max(out[g] ?? 0, n);
    return out;
  }
}
