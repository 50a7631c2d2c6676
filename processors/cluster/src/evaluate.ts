import type { LabeledHeadline } from './dataset.ts';
import { type ClusteringMetrics, evaluateClustering } from './metrics.ts';
import type { HeadlineRecord } from './state.ts';

/** Anything that assigns story ids online. */
export interface Clusterer {
  assign(rec: HeadlineRecord): { storyId: string };
}

export interface EvalReport extends ClusteringMetrics {
  method: string;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  /** Records per second of CPU time used by this process (robust on a busy, shared machine). */
  recordsPerCpuSecond: number;
}

/** Replays `rows` in the given order through a fresh clusterer and scores it against `story`. */
export function evaluateStream(method: string, make: () => Clusterer, rows: readonly LabeledHeadline[]): EvalReport {
  const c = make();
  const predicted = new Array<string>(rows.length);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rows.length; i++) predicted[i] = c.assign(rows[i]!).storyId;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const m = evaluateClustering(
    predicted,
    rows.map((r) => r.story),
  );
  return {
    method,
    records: rows.length,
    seconds,
    recordsPerSecond: rows.length / seconds,
    recordsPerCpuSecond: rows.length / Math.max(cpuSeconds, 1e-6),
    ...m,
  };
}
