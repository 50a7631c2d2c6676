// `feedlog bench redis`: the comparison that motivates feedlog (issue 15). The same headlines
// through the same four stages over Redis pub/sub, over Redis Streams with consumer groups, and
// through feedlog on the local stack; the same stage SIGKILLed mid-run and started again in each.
// One table: items lost, duplicated, throughput and push → searchable latency.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@feedlog/common';
import { LaunchError } from '@feedlog/scripts/launch/errors';
import { type Command, InvalidArgumentError, Option } from 'commander';
import pg from 'pg';
import { loadHeadlines } from '../e2e/headlines.ts';
import { prepareLocalStack } from '../e2e/local-stack.ts';
import { startStubEmbedder } from '../e2e/stub-embedder.ts';
import { runFeedlogSide } from './feedlog-side.ts';
import { type ComparisonLoad, runRedisPipeline } from './pipeline.ts';
import type { SystemResult } from './result.ts';
import { startRedis } from './server.ts';
import { type RedisStage, STAGES } from './transforms.ts';

interface Flags {
  records: number;
  rate: number;
  restartStage: string;
  restartAt: number;
  downMs: number;
  redisPort: number;
  systems: string[];
  out?: string;
  json?: boolean;
}
const SYSTEMS = ['pubsub', 'streams', 'feedlog'];

const num = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative number, got ${v}`);
  return n;
};

export function comparisonTable(rows: SystemResult[]): string {
  return [
    '| system | pushed | searchable | lost | duplicated | items/s (first push → last searchable) | latency p50 / p95 / p99 (s) | restart of the stage |',
    '|---|--:|--:|--:|--:|--:|--:|---|',
    ...rows.map(
      (r) =>
        `| ${r.system} | ${r.pushed.toLocaleString('en-US')} | ${r.arrived.toLocaleString('en-US')} | **${r.lost.toLocaleString('en-US')}** | **${r.duplicates.toLocaleString('en-US')}** | ${r.itemsPerSec} | ${r.latencySeconds.p50} / ${r.latencySeconds.p95} / ${r.latencySeconds.p99} | ${r.restart.stage} SIGKILLed at ${r.restart.atSecond} s, back after ${r.restart.downSeconds} s |`,
    ),
  ].join('\n');
}

export function registerRedisCommand(bench: Command): void {
  bench
    .command('redis')
    .description(
      'the same headlines and the same stage crash through Redis pub/sub, Redis Streams and feedlog: items lost, duplicated, throughput, latency',
    )
    .option('--records <n>', 'items pushed into each system', num, 20_000)
    .option('--rate <n>', 'items/s pushed into each system', num, 400)
    .addOption(
      new Option('--restart-stage <stage>', 'the stage SIGKILLed and started again').choices(STAGES).default('embed'),
    )
    .option('--restart-at <fraction>', 'when, as a fraction of the load pushed', num, 0.4)
    .option('--down-ms <ms>', 'how long the stage stays down before it is started again', num, 3_000)
    .option('--redis-port <port>', 'port of the redis-server the harness starts on 127.0.0.1', num, 26_399)
    .option(
      '--systems <list>',
      'which of pubsub,streams,feedlog to run',
      (v) => {
        const l = v.split(',');
        const bad = l.filter((s) => !SYSTEMS.includes(s));
        if (bad.length) throw new InvalidArgumentError(`${bad.join(', ')} unknown (${SYSTEMS.join(', ')})`);
        return l;
      },
      SYSTEMS,
    )
    .option('--out <dir>', 'where result.json and summary.md go (default <FEEDLOG_HOME>/bench/redis-<time>)')
    .option('--json', 'print the result JSON on stdout')
    .action(async (f: Flags) => {
      if (f.restartAt <= 0 || f.restartAt >= 1) throw new LaunchError('--restart-at: a fraction between 0 and 1');
      const cfg = loadConfig();
      const log = (s: string) => process.stderr.write(`[bench redis] ${s}\n`);
      const startedAt = new Date().toISOString();
      const dir = f.out ?? join(cfg.home, 'bench', `redis-${startedAt.replace(/[:.]/g, '-')}`);
      mkdirSync(dir, { recursive: true });
      const pool = new pg.Pool({ connectionString: cfg.postgres.url, max: 4 });
      const loadBefore = loadavg();
      // the stack's embed stage goes onto the stub embedder, which the Redis stages call too;
      // without feedlog in the run the stack is not touched and the stub runs in this process
      const withFeedlog = f.systems.includes('feedlog');
      const stack = withFeedlog ? await prepareLocalStack(cfg, pool, 'stub', log) : undefined;
      const stub = withFeedlog ? undefined : await startStubEmbedder(Number(cfg.embedder.port) + 101);
      const embedUrl = stack?.embedder.baseUrl ?? `http://127.0.0.1:${Number(cfg.embedder.port) + 101}/v1`;
      const redis = await startRedis(f.redisPort, join(dir, 'redis'));
      const rows: SystemResult[] = [];
      try {
        const load: ComparisonLoad = {
          records: f.records,
          rate: f.rate,
          restartStage: f.restartStage as RedisStage,
          restartAt: f.restartAt,
          downMs: f.downMs,
          set: loadHeadlines(),
          embedUrl,
          model: stack?.embedder.model ?? 'all-MiniLM-L6-v2-int8',
          log,
        };
        log(`redis-server ${redis.version} on 127.0.0.1:${redis.port}; ${f.records} items at ${f.rate}/s per system`);
        for (const mode of ['pubsub', 'streams'] as const) {
          if (!f.systems.includes(mode)) continue;
          rows.push(await runRedisPipeline(mode, redis.port, dir, load));
          log(JSON.stringify(rows.at(-1)));
        }
        if (stack) {
          rows.push(await runFeedlogSide(cfg, pool, stack, load));
          log(JSON.stringify(rows.at(-1)));
        }
      } finally {
        await redis.stop();
        await stack?.restore();
        await new Promise((r) => (stub ? stub.close(r) : r(undefined)));
        await pool.end();
      }
      const result = {
        issue: 15,
        startedAt,
        command: `feedlog ${process.argv.slice(2).join(' ')}`,
        machine: { loadBefore, loadAfter: loadavg() },
        redisVersion: redis.version,
        options: f,
        rows,
      };
      writeFileSync(join(dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
      const table = comparisonTable(rows);
      writeFileSync(
        join(dir, 'summary.md'),
        `# feedlog vs Redis, ${startedAt}\n\nCommand: \`${result.command}\`\n\n${table}\n`,
      );
      if (f.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stdout.write(`${table}\n${join(dir, 'summary.md')}\n`);
    });
}
