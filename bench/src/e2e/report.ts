// The e2e result as files: result.json, summary.md and chart.svg (throughput and lag over time).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { throughputLagSvg } from './chart.ts';
import type { StageName } from './measure.ts';
import type { E2EResult } from './run.ts';

const n = (v: number | undefined, d = 0) =>
  v === undefined ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

export function chartOf(r: E2EResult): string {
  const throughput = (['ingest', 'index'] as StageName[]).map((s) => ({
    name: s === 'ingest' ? 'pushed (ingest)' : 'searchable (index)',
    points: (r.timeline[s] ?? []).map((y, x) => [x, y] as [number, number]),
  }));
  const groups = [...new Set(r.lag.points.flatMap((p) => Object.keys(p.lag)))].sort();
  const lag = groups.map((g) => ({
    name: g,
    points: r.lag.points.map((p) => [p.t, p.lag[g] ?? 0] as [number, number]),
  }));
  return throughputLagSvg(
    throughput,
    lag,
    `feedlog e2e: ${n(r.push.accepted)} items, ${r.embedder.kind} embedder (${r.startedAt.slice(0, 16)}Z)`,
  );
}

export function markdownOf(r: E2EResult, command: string): string {
  const b = r.baselines;
  const lines = [
    `# feedlog e2e benchmark, ${r.startedAt}`,
    '',
    `Command: \`${command}\``,
    `Data: ${r.dataset}, cycled with fresh guids. Embedder: ${r.embedder.kind} (${r.embedder.baseUrl}, ${r.embedder.model}).`,
    `Machine: ${r.machine.cores} cores, load average ${r.machine.loadBefore.join(' / ')} before, ${r.machine.loadAfter.join(' / ')} after.`,
    '',
    ...(r.searchable.stoppedEarly
      ? [
          `Stopped at the deadline (--max-seconds): ${n(r.push.accepted - r.searchable.items)} items were not yet searchable, so "lost" counts items still on their way; rates are over what arrived.`,
          '',
        ]
      : []),
    '| pushed | searchable | lost | duplicate `indexed` records | push items/s | push → all searchable | e2e items/s | latency p50 / p95 / p99 / max (s) |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|',
    `| ${n(r.push.accepted)} | ${n(r.searchable.items)} | ${r.searchable.lost} | ${r.searchable.duplicates} | ${n(r.push.itemsPerSec, 1)} | ${n(r.searchable.seconds, 1)} s | ${n(r.searchable.itemsPerSec, 1)} | ${r.latencySeconds.p50.toFixed(2)} / ${r.latencySeconds.p95.toFixed(2)} / ${r.latencySeconds.p99.toFixed(2)} / ${r.latencySeconds.max.toFixed(2)} |`,
    '',
    '| stage | items | first → last (s) | records/s | max lag (records) |',
    '|---|--:|--:|--:|--:|',
    ...(Object.entries(r.stages) as [StageName, E2EResult['stages'][StageName]][]).map(
      ([s, v]) => `| ${s} | ${n(v.items)} | ${n(v.seconds, 1)} | ${n(v.recordsPerSec, 1)} | ${n(r.lag.max[s])} |`,
    ),
    `| materialize | | | | ${n(r.lag.max.materialize)} |`,
    '',
    '| process | CPU s | cores (avg) | RSS max MiB |',
    '|---|--:|--:|--:|',
    ...Object.entries(r.processes).map(
      ([p, v]) => `| ${p} | ${n(v.cpuSeconds, 1)} | ${n(v.cpuCores, 2)} | ${n(v.rssMaxMiB, 0)} |`,
    ),
    '',
    '| baseline (same run) | rate | ratio |',
    '|---|--:|--:|',
  ];
  if (b.broker) {
    lines.push(
      `| kafka-producer-perf-test, ${n(b.broker.records)} × ${b.broker.recordBytes} B, acks=all, ${b.broker.partitions} partitions | ${n(b.broker.produceRecordsPerSec)} records/s | push ÷ it = ${r.ratios.pushVsBrokerProduce}; e2e ÷ it = ${r.ratios.e2eVsBrokerProduce} |`,
      `| kafka-consumer-perf-test, same topic | ${n(b.broker.consumeRecordsPerSec)} records/s | e2e ÷ it = ${r.ratios.e2eVsBrokerConsume} |`,
    );
  }
  if (b.embedder) {
    lines.push(
      `| ${r.embedder.kind} embedder alone (batches of ${b.embedder.batch}, ${b.embedder.concurrency} in flight, ${n(b.embedder.texts)} texts) | ${n(b.embedder.textsPerSec, 1)} texts/s | embed stage ÷ it = ${r.ratios.embedStageVsEmbedderAlone}; e2e ÷ it = ${r.ratios.e2eVsEmbedderAlone} |`,
    );
  }
  lines.push('', '![throughput and lag](chart.svg)', '');
  return lines.join('\n');
}

export function writeReport(r: E2EResult, dir: string, command: string): { json: string; md: string; svg: string } {
  mkdirSync(dir, { recursive: true });
  const out = { json: join(dir, 'result.json'), md: join(dir, 'summary.md'), svg: join(dir, 'chart.svg') };
  writeFileSync(out.json, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(out.md, markdownOf(r, command));
  writeFileSync(out.svg, chartOf(r));
  return out;
}
