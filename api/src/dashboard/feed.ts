import type { GroupLag, LagReport, LagStatus } from '@feedlog/lag';
import type { StageName } from '@feedlog/topics';
import type { OpsSnapshot } from './ops.ts';

/** What the feed needs of the lag module: one sample per call (LagMonitor from @feedlog/lag). */
export interface LagSource {
  sample(): Promise<LagReport>;
  close?(): Promise<void>;
}

/** One point of the live chart: per stage, total lag (records) and throughput (records/s consumed). */
export interface ChartPoint {
  t: number;
  lag: Partial<Record<StageName, number>>;
  rate: Partial<Record<StageName, number | null>>;
}

export interface GroupView {
  group: string;
  stage: StageName | null;
  generation: number | null;
  state: string;
  status: LagStatus;
  members: number;
  /** Kafka's figure (log end − committed, markers included), as `kafka-consumer-groups` prints it */
  lag: number;
  /** records really waiting: partitions holding only transaction markers count 0 */
  pending: number;
  lagSeconds: number | null;
  rate: number | null;
  partitions: {
    topic: string;
    partition: number;
    committed: number | null;
    end: number;
    lag: number;
    lagSeconds: number | null;
    markerOnly: boolean;
    status: LagStatus;
  }[];
}

export interface FeedOptions {
  lag?: LagSource;
  ops?: () => Promise<OpsSnapshot>;
  /** which feedlog stage a group runs (undefined: not this deployment's group, not shown) */
  stageOf: (g: GroupLag) => StageName | undefined;
  /** lag sampling period (default 5 s) */
  intervalMs?: number;
  /** PostgreSQL figures period (default 5 s) */
  opsIntervalMs?: number;
  /** chart history kept for new pages (default 15 min) */
  historyMs?: number;
  onError?: (what: string, e: unknown) => void;
}

/** A server-sent event, framed once and written as is to every connected page. */
const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/**
 * One sampling loop for every connected page: it runs while at least one subscriber holds it and
 * stops with the last one, each sample framed once and fanned out, the last 15 minutes of chart
 * points kept so a page that (re)connects draws the history at once.
 */
export class DashboardFeed {
  private readonly listeners = new Set<(chunk: string) => void>();
  private readonly history: ChartPoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastLag: { at: string; groups: GroupView[]; error: string | null; warnings: string[] } | undefined;
  private lastOps: OpsSnapshot | undefined;
  private lastOpsAt = 0;
  private prev: Map<string, { t: number; consumed: number }> = new Map();
  private ticking: Promise<void> | undefined;
  private leaseUntil = 0;
  private lastSampleAt = 0;
  /** samples taken since start (tests and the bench read it) */
  samples = 0;

  constructor(private readonly o: FeedOptions) {}

  get subscribers(): number {
    return this.listeners.size;
  }

  get running(): boolean {
    return this.timer !== undefined || this.ticking !== undefined;
  }

  /** The events a page gets on connecting: the graph-independent state so far. */
  hello(): string {
    return (
      frame('history', this.history) +
      (this.lastLag ? frame('lag', this.lastLag) : '') +
      (this.lastOps ? frame('ops', this.lastOps) : '')
    );
  }

  /** Start receiving framed events; the loop runs from the first subscriber to the last unsubscribe. */
  subscribe(listener: (chunk: string) => void): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.schedule(0);
    return () => {
      this.listeners.delete(listener);
      if (!this.needed() && this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
    };
  }

  /**
   * Someone other than a page needs fresh figures (a /metrics scrape): keep the loop running for
   * `holdMs`, and when the last sample is older than one period, take one now and wait for it.
   */
  async demand(holdMs: number): Promise<void> {
    this.leaseUntil = Math.max(this.leaseUntil, Date.now() + holdMs);
    if (Date.now() - this.lastSampleAt < this.interval) {
      this.schedule(this.interval);
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.runTick();
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.leaseUntil = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  private get interval(): number {
    return this.o.intervalMs ?? 5_000;
  }

  private needed(): boolean {
    return this.listeners.size > 0 || Date.now() < this.leaseUntil;
  }

  private runTick(): Promise<void> {
    this.ticking ??= this.tick().finally(() => {
      this.ticking = undefined;
      this.schedule(this.interval);
    });
    return this.ticking;
  }

  private schedule(delay: number): void {
    if (this.timer || this.ticking || !this.needed()) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runTick();
    }, delay);
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    const chunks: string[] = [];
    if (this.o.lag) {
      try {
        const report = await this.o.lag.sample();
        this.samples++;
        this.lastSampleAt = now;
        const groups = this.view(report, now);
        this.lastLag = { at: report.at, groups, error: null, warnings: report.warnings ?? [] };
        const point = this.point(groups, now);
        this.history.push(point);
        const horizon = now - (this.o.historyMs ?? 15 * 60_000);
        while (this.history.length && (this.history[0]?.t ?? now) < horizon) this.history.shift();
        chunks.push(frame('lag', this.lastLag), frame('point', point));
      } catch (e) {
        this.o.onError?.('lag sample', e);
        this.lastLag = {
          at: new Date(now).toISOString(),
          groups: this.lastLag?.groups ?? [],
          error: String((e as Error).message ?? e),
          warnings: [],
        };
        chunks.push(frame('lag', this.lastLag));
      }
    }
    // PostgreSQL figures are for pages only (a scrape reads the lag gauges)
    if (this.o.ops && this.listeners.size > 0 && now - this.lastOpsAt >= (this.o.opsIntervalMs ?? 5_000)) {
      this.lastOpsAt = now;
      try {
        this.lastOps = await this.o.ops();
      } catch (e) {
        this.o.onError?.('ops read', e);
        this.lastOps = { ...(this.lastOps ?? emptyOps()), error: String((e as Error).message ?? e) };
      }
      chunks.push(frame('ops', this.lastOps));
    }
    const chunk = chunks.join('');
    if (chunk) for (const l of this.listeners) l(chunk);
  }

  private view(report: LagReport, now: number): GroupView[] {
    const out: GroupView[] = [];
    for (const g of report.groups) {
      const stage = this.o.stageOf(g);
      if (!stage) continue;
      // throughput: the group's own rate, else committed offsets consumed since the last sample
      const consumed = g.partitions.reduce((s, p) => s + (p.committedOffset ?? 0), 0);
      const before = this.prev.get(g.group);
      this.prev.set(g.group, { t: now, consumed });
      const delta =
        before && now > before.t ? Math.max(0, (consumed - before.consumed) / ((now - before.t) / 1000)) : null;
      out.push({
        group: g.group,
        stage,
        generation: g.generation ?? generationOf(g.group),
        state: g.state,
        status: g.status,
        members: g.members.length,
        lag: g.lag,
        pending: g.partitions.reduce((s, p) => s + (p.markerOnly ? 0 : p.lag), 0),
        lagSeconds: g.lagSeconds,
        rate: g.rateOut ?? delta,
        partitions: g.partitions.map((p) => ({
          topic: p.topic,
          partition: p.partition,
          committed: p.committedOffset,
          end: p.logEndOffset,
          lag: p.lag,
          lagSeconds: p.lagSeconds,
          markerOnly: p.markerOnly,
          status: p.status,
        })),
      });
    }
    return out.sort((a, b) => a.group.localeCompare(b.group));
  }

  private point(groups: GroupView[], t: number): ChartPoint {
    const p: ChartPoint = { t, lag: {}, rate: {} };
    for (const g of groups) {
      if (!g.stage) continue;
      p.lag[g.stage] = (p.lag[g.stage] ?? 0) + g.pending;
      p.rate[g.stage] =
        g.rate === null && p.rate[g.stage] === undefined ? null : (p.rate[g.stage] ?? 0) + (g.rate ?? 0);
    }
    return p;
  }
}

/** `<anything>.g<N>` → N (the lag module parses only unprefixed `feedlog.<stage>.g<N>` names). */
function generationOf(group: string): number | null {
  const m = /\.g(\d+)$/.exec(group);
  return m ? Number(m[1]) : null;
}

function emptyOps(): OpsSnapshot {
  return { at: new Date().toISOString(), deadLetters: { byStage: {}, recent: [] }, jobs: [], replay: null };
}
