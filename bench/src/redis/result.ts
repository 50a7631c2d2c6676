// One row of the comparison table, and how it is computed from (id, pushed at, searchable at).

export interface SystemResult {
  system: string;
  pushed: number;
  arrived: number;
  lost: number;
  duplicates: number;
  /** first push → last item searchable */
  seconds: number;
  itemsPerSec: number;
  latencySeconds: { p50: number; p95: number; p99: number; max: number };
  restart: { stage: string; atSecond: number; downSeconds: number };
  notes: string;
}

export function quantiles(values: number[]): SystemResult['latencySeconds'] {
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? (s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0) : 0);
  const r = (v: number) => Number(v.toFixed(3));
  return { p50: r(q(0.5)), p95: r(q(0.95)), p99: r(q(0.99)), max: r(s.at(-1) ?? 0) };
}

/** From the index's log of `id pushedAtMs indexedAtMs` lines. */
export function fromArrivals(
  system: string,
  pushed: number,
  firstPushMs: number,
  lines: string[],
  restart: SystemResult['restart'],
  notes: string,
): SystemResult {
  const seen = new Map<string, number>();
  const lat: number[] = [];
  let last = firstPushMs;
  for (const l of lines) {
    const [id, p, i] = l.split(' ');
    if (!id || !p || !i) continue;
    const n = seen.get(id) ?? 0;
    seen.set(id, n + 1);
    if (n === 0) lat.push((Number(i) - Number(p)) / 1000);
    last = Math.max(last, Number(i));
  }
  const arrived = seen.size;
  const duplicates = [...seen.values()].reduce((s, n) => s + n - 1, 0);
  const seconds = (last - firstPushMs) / 1000;
  return {
    system,
    pushed,
    arrived,
    lost: pushed - arrived,
    duplicates,
    seconds: Number(seconds.toFixed(2)),
    itemsPerSec: Number((seconds > 0 ? arrived / seconds : 0).toFixed(1)),
    latencySeconds: quantiles(lat),
    restart,
    notes,
  };
}
