// `feedlog bench e2e`: the end-to-end benchmark on the local stack (issue 15).
import { join } from 'node:path';
import { loadConfig } from '@feedlog/common';
import { type Command, InvalidArgumentError, Option } from 'commander';
import pg from 'pg';
import { loadHeadlines } from './headlines.ts';
import { type EmbedderMode, prepareLocalStack } from './local-stack.ts';
import { writeReport } from './report.ts';
import { type E2EOptions, runE2E } from './run.ts';

interface E2EFlags {
  scale: 'quick' | 'full';
  records?: number;
  rate?: number;
  embedder?: EmbedderMode;
  batch: number;
  concurrency: number;
  brokerRecords?: number;
  embedderTexts?: number;
  maxSeconds?: number;
  out?: string;
  json?: boolean;
}

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got ${v}`);
  return n;
};

export function e2eOptions(f: E2EFlags): { opts: E2EOptions; embedder: EmbedderMode } {
  const quick = f.scale === 'quick';
  const records = f.records ?? (quick ? 2_000 : 1_000_000);
  const embedder = f.embedder ?? (quick ? 'stack' : 'stub');
  return {
    embedder,
    opts: {
      records,
      ...(f.rate ? { rate: f.rate } : {}),
      batch: f.batch,
      concurrency: f.concurrency,
      brokerBaselineRecords: f.brokerRecords ?? Math.min(records * (quick ? 10 : 1), 1_000_000),
      embedderBaselineTexts: f.embedderTexts ?? (embedder === 'stub' ? 20_000 : quick ? 256 : 2_000),
      stallMs: quick ? 60_000 : 180_000,
      ...(f.maxSeconds ? { deadlineMs: f.maxSeconds * 1000 } : {}),
    },
  };
}

export function registerE2ECommand(bench: Command): void {
  bench
    .command('e2e')
    .description(
      'push real headlines through POST /v1/items of the local stack and measure every stage, latency, CPU/RSS and lag against same-run broker and embedder baselines',
    )
    .addOption(
      new Option('--scale <scale>', 'quick (seconds, CI) or full (1,000,000 records, stub embedder)')
        .choices(['quick', 'full'])
        .default('quick'),
    )
    .option('--records <n>', 'items to push (quick 2,000, full 1,000,000)', int)
    .option('--rate <n>', 'items/s to push at (default: as fast as the API accepts)', int)
    .option(
      '--embedder <mode>',
      'stack: leave the stages as they run; stub | real: restart cluster and embed on the stub (cache off) or the real model (shared cache)',
    )
    .option('--batch <n>', 'items per POST (the API takes at most 500)', int, 500)
    .option('--concurrency <n>', 'POSTs in flight', int, 4)
    .option('--broker-records <n>', 'records for kafka-producer-perf-test (0: skip)', int)
    .option('--embedder-texts <n>', 'texts for the embedder-alone baseline (0: skip)', int)
    .option('--max-seconds <n>', 'stop waiting after n seconds and report what is searchable by then', int)
    .option('--out <dir>', 'where result.json, summary.md and chart.svg go (default <FEEDLOG_HOME>/bench/e2e-<time>)')
    .option('--json', 'print the result JSON on stdout')
    .action(async (f: E2EFlags) => {
      const { opts, embedder } = e2eOptions(f);
      const cfg = loadConfig();
      const log = (s: string) => process.stderr.write(`[bench e2e] ${s}\n`);
      const pool = new pg.Pool({ connectionString: cfg.postgres.url, max: 4 });
      const stack = await prepareLocalStack(cfg, pool, embedder, log);
      try {
        const set = loadHeadlines();
        log(`${set.rows.length} headlines from ${set.dataset}; ${opts.records} items to push`);
        const r = await runE2E(opts, { cfg, pool, set, log, ...stack });
        const dir = f.out ?? join(cfg.home, 'bench', `e2e-${r.startedAt.replace(/[:.]/g, '-')}`);
        const files = writeReport(r, dir, `feedlog ${process.argv.slice(2).join(' ')}`);
        if (f.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else {
          process.stdout.write(
            `${r.push.accepted} pushed (${r.push.itemsPerSec}/s), ${r.searchable.items} searchable, ${r.searchable.lost} lost, ${r.searchable.duplicates} duplicated; e2e ${r.searchable.itemsPerSec} items/s; latency p50 ${r.latencySeconds.p50} s p95 ${r.latencySeconds.p95} s p99 ${r.latencySeconds.p99} s\n`,
          );
          for (const [k, v] of Object.entries(r.ratios)) process.stdout.write(`  ${k}: ${v}\n`);
          process.stdout.write(`${files.md}\n${files.json}\n${files.svg}\n`);
        }
        if (r.searchable.lost !== 0 && !r.searchable.stoppedEarly) process.exitCode = 1;
      } finally {
        await stack.restore();
        await pool.end();
      }
    });
}
