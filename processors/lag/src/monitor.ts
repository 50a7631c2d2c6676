import { loadConfig } from '@feedlog/common';
import type { Admin, Kafka } from 'kafkajs';
import type pg from 'pg';
import { collectGroups, type GroupFilter, type RawGroup } from './collect.ts';
import { partitionStatus } from './evaluate.ts';
import { type LogOffsets, LogReader, tpKey } from './log-reader.ts';
import { type GroupLag, type LagReport, type LagStatus, type PartitionLag, statusCode } from './types.ts';
import { PartitionWindow, RateWindow } from './window.ts';

export interface LagMonitorOptions {
  /** kafkajs client for the admin calls (groups, members, committed offsets) */
  kafka: Kafka;
  /** bootstrap servers for the log reader (high watermarks, record peeks); default KAFKA_BROKERS */
  brokers?: string[];
  /** where the materializer stores its offsets (`consumer_offsets`); without it only Kafka-committed offsets are read */
  pool?: pg.Pool;
  /** which groups to report; all consumer groups when absent */
  groups?: GroupFilter;
  /** observations kept per partition (Burrow `intervals`, default 10) */
  intervals?: number;
  /** observations closer than this merge into the previous one (Burrow `min-distance`, default 1000 ms) */
  minDistanceMs?: number;
  /** lag (records, after the marker allowance) still counted as caught up (Burrow `allowed-lag`, default 0) */
  allowedLag?: number;
  /** samples a partition needs before it is evaluated (one sample cannot tell a stall from a start; default 2) */
  minSamples?: number;
  /** period of `start()` (default 5000 ms) */
  intervalMs?: number;
  /** a clock, for tests (ms) */
  now?: () => number;
}

const GROUP_NAME = /feedlog\.([a-z][\w-]*)\.g(\d+)$/;

/**
 * Consumer lag of every group with a Burrow status. `sample()` reads everything now, appends to
 * the sliding window and evaluates; `start()` samples on a timer for the API's gauges and the
 * dashboard; listeners get each report.
 */
export class LagMonitor {
  private readonly admin: Admin;
  private readonly reader: LogReader;
  private readonly windows = new Map<string, PartitionWindow>();
  private readonly rates = new Map<string, RateWindow>();
  private readonly listeners = new Set<(r: LagReport) => void>();
  private connected: Promise<void> | undefined;
  private inFlight: Promise<LagReport> | undefined;
  private latest: LagReport | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly intervals: number;
  private readonly minDistanceMs: number;
  private readonly allowedLag: number;
  private readonly minSamples: number;
  private readonly now: () => number;

  constructor(private readonly opts: LagMonitorOptions) {
    this.admin = opts.kafka.admin();
    this.reader = new LogReader(opts.brokers ?? loadConfig().kafka.brokers, 'feedlog-lag');
    this.intervals = opts.intervals ?? 10;
    this.minDistanceMs = opts.minDistanceMs ?? 1000;
    this.allowedLag = opts.allowedLag ?? 0;
    this.minSamples = opts.minSamples ?? 2;
    this.now = opts.now ?? Date.now;
  }

  /** Reads every group now; concurrent callers share one sample. */
  sample(): Promise<LagReport> {
    this.inFlight ??= this.read().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** The last report, if any sample has completed. */
  last(): LagReport | undefined {
    return this.latest;
  }

  /** Every report from now on; returns the unsubscribe function. */
  subscribe(listener: (r: LagReport) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Samples every `intervalMs` until `close()` (errors go to `onError`; the next tick retries). */
  start(onError: (e: unknown) => void = () => undefined): void {
    if (this.timer) return;
    const tick = () => void this.sample().catch(onError);
    tick();
    this.timer = setInterval(tick, this.opts.intervalMs ?? 5000);
    // the monitor never keeps a process alive by itself
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight?.catch(() => undefined);
    if (this.connected) await this.admin.disconnect().catch(() => undefined);
    await this.reader.close().catch(() => undefined);
  }

  private async read(): Promise<LagReport> {
    const t0 = performance.now();
    this.connected ??= this.admin.connect().catch((e: unknown) => {
      this.connected = undefined;
      throw e;
    });
    await this.connected;
    const warnings: string[] = [];
    const groups = await collectGroups(
      this.admin,
      (g) => this.reader.committed(g),
      this.opts.pool,
      this.opts.groups,
      warnings,
    );
    const existing = new Set(await this.admin.listTopics());
    const topics = [...new Set(groups.flatMap((g) => [...g.committed.keys()]))].filter((t) => existing.has(t));
    const logs = await this.reader.logOffsets(topics);
    const peeks = await this.reader.peek(
      groups.flatMap((g) =>
        positions(g, logs)
          .filter((p) => p.end > p.from)
          .map((p) => ({ topic: p.topic, partition: p.partition, offset: p.from })),
      ),
      logs,
    );
    const at = this.now();
    const report: LagReport = {
      at: new Date(at).toISOString(),
      tookMs: 0,
      warnings,
      groups: groups.map((g) => this.evaluateGroup(g, logs, peeks, at)),
    };
    report.tookMs = Math.round((performance.now() - t0) * 10) / 10;
    this.latest = report;
    for (const l of this.listeners) l(report);
    return report;
  }

  private evaluateGroup(
    g: RawGroup,
    logs: Map<string, LogOffsets>,
    peeks: Map<string, { markerOnly: boolean; firstTimestamp: number | null }>,
    at: number,
  ): GroupLag {
    const owners = new Map<string, PartitionLag['owner']>();
    for (const m of g.members) {
      for (const a of m.assignments) {
        for (const p of a.partitions) {
          owners.set(tpKey(a.topic, p), { memberId: m.memberId, clientId: m.clientId, host: m.host });
        }
      }
    }
    const partitions: PartitionLag[] = [];
    let sumEnd = 0;
    let sumCommitted = 0;
    for (const p of positions(g, logs)) {
      const lag = Math.max(0, p.end - p.from);
      const peek = peeks.get(`${tpKey(p.topic, p.partition)}\u0000${p.from}`);
      const markerOnly = lag > 0 && peek?.markerOnly === true;
      const effectiveLag = markerOnly ? 0 : lag;
      const owner = owners.get(tpKey(p.topic, p.partition));
      const key = `${g.group}\u0000${tpKey(p.topic, p.partition)}`;
      let w = this.windows.get(key);
      if (!w) {
        w = new PartitionWindow({ intervals: this.intervals, minDistanceMs: this.minDistanceMs });
        this.windows.set(key, w);
      }
      w.add({ offset: p.from, at, lag: effectiveLag, end: p.from + effectiveLag, owned: owner !== undefined });
      const status: LagStatus =
        w.samples < this.minSamples
          ? 'OK'
          : partitionStatus(w.offsets, w.brokerEnds, effectiveLag, at, this.allowedLag);
      const lagSeconds =
        effectiveLag === 0 ? 0 : peek?.firstTimestamp != null ? Math.max(0, (at - peek.firstTimestamp) / 1000) : null;
      sumEnd += p.end;
      sumCommitted += p.from;
      partitions.push({
        topic: p.topic,
        partition: p.partition,
        committedOffset: p.committed,
        logStartOffset: p.start,
        logEndOffset: p.end,
        lag,
        markerOnly,
        lagSeconds,
        ...(owner ? { owner } : {}),
        status,
        complete: w.complete,
      });
    }
    let rate = this.rates.get(g.group);
    if (!rate) {
      rate = new RateWindow(this.intervals);
      this.rates.set(g.group, rate);
    }
    rate.add(at, sumEnd, sumCommitted);
    const named = GROUP_NAME.exec(g.group);
    const known = partitions.map((p) => p.lagSeconds).filter((s): s is number => s !== null);
    return {
      group: g.group,
      offsetsIn: g.offsetsIn,
      ...(named ? { stage: named[1]!, generation: Number(named[2]) } : {}),
      state: g.state,
      members: g.members,
      status: partitions.reduce<LagStatus>((w, p) => (statusCode[p.status] > statusCode[w] ? p.status : w), 'OK'),
      lag: partitions.reduce((s, p) => s + p.lag, 0),
      // the oldest known unconsumed record; null when some partition has lag but no readable timestamp
      lagSeconds: known.length ? Math.max(...known) : partitions.length ? null : 0,
      ...rate.rates(),
      partitions,
    };
  }
}

interface Position {
  topic: string;
  partition: number;
  committed: number | null;
  /** where the group reads next: the committed offset, or the log start when none */
  from: number;
  start: number;
  end: number;
}

/** The group's partitions that exist on the broker, sorted, with their log offsets. */
function positions(g: RawGroup, logs: Map<string, LogOffsets>): Position[] {
  const out: Position[] = [];
  for (const [topic, parts] of [...g.committed].sort(([a], [b]) => a.localeCompare(b))) {
    for (const [partition, committed] of [...parts].sort(([a], [b]) => a - b)) {
      const log = logs.get(tpKey(topic, partition));
      if (!log) continue;
      out.push({ topic, partition, committed, from: committed ?? log.start, start: log.start, end: log.end });
    }
  }
  return out;
}
