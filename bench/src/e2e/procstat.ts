// CPU and RSS of named processes from /proc: utime+stime ticks (CLK_TCK, 100 on Linux) between
// samples, VmRSS from /proc/<pid>/status. A process that is gone reads as null. A process's
// direct children count with it (PostgreSQL's backends under the postmaster); a child that exits
// between samples takes its CPU with it, so the figures are a lower bound for PostgreSQL.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS = 100;

export function readProc(pid: number): { cpuSeconds: number; rssBytes: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name may hold spaces and parentheses: fields start after the last ')'
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(f[11]) + Number(f[12])) / TICKS;
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpuSeconds: cpu, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
  } catch {
    return null;
  }
}

function childrenOf(): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      m.set(ppid, [...(m.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  return m;
}

function readTree(pid: number, kids: Map<number, number[]>) {
  const self = readProc(pid);
  if (!self) return null;
  for (const c of kids.get(pid) ?? []) {
    const k = readProc(c);
    if (!k) continue;
    self.cpuSeconds += k.cpuSeconds;
    self.rssBytes += k.rssBytes;
  }
  return self;
}

export interface ProcSummary {
  pid: number;
  cpuSeconds: number;
  /** CPU over the measured wall time, in cores (1.0 = one core busy) */
  cpuCores: number;
  rssMaxMiB: number;
  rssEndMiB: number;
}

/** Samples `pids` every `intervalMs` until stopped; summary per name. */
export class ProcSampler {
  // CPU seen at the first sample: the run's CPU is last − first
  private readonly first = new Map<string, { cpu: number; t: number }>();
  private readonly last = new Map<string, { cpu: number; rss: number; t: number }>();
  private readonly maxRss = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pids: Record<string, number>) {}

  start(intervalMs = 1_000): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  sample(): void {
    const t = performance.now();
    const kids = childrenOf();
    for (const [name, pid] of Object.entries(this.pids)) {
      const p = readTree(pid, kids);
      if (!p) continue;
      if (!this.first.has(name)) this.first.set(name, { cpu: p.cpuSeconds, t });
      this.last.set(name, { cpu: p.cpuSeconds, rss: p.rssBytes, t });
      this.maxRss.set(name, Math.max(this.maxRss.get(name) ?? 0, p.rssBytes));
    }
  }

  stop(): Record<string, ProcSummary> {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const out: Record<string, ProcSummary> = {};
    const mib = (b: number) => Number((b / 2 ** 20).toFixed(1));
    for (const [name, pid] of Object.entries(this.pids)) {
      const a = this.first.get(name);
      const b = this.last.get(name);
      if (!a || !b) continue;
      const cpu = b.cpu - a.cpu;
      const wall = (b.t - a.t) / 1000;
      out[name] = {
        pid,
        cpuSeconds: Number(cpu.toFixed(2)),
        cpuCores: Number((wall > 0 ? cpu / wall : 0).toFixed(3)),
        rssMaxMiB: mib(this.maxRss.get(name) ?? 0),
        rssEndMiB: mib(b.rss),
      };
    }
    return out;
  }
}
