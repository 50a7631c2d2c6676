import { setTimeout as sleep } from 'node:timers/promises';
import { createKafka, loadConfig } from '@feedlog/common';
import Table from 'cli-table3';
import { type Command, InvalidArgumentError } from 'commander';
import logUpdate from 'log-update';
import pg from 'pg';
import { groupFilter } from './collect.ts';
import { LagMonitor } from './monitor.ts';
import type { LagReport } from './types.ts';

interface LagCliOptions {
  group?: string[];
  watch?: boolean;
  json?: boolean;
  interval: number;
}

const fmt = (n: number | null, digits = 1): string =>
  n === null ? '-' : Number.isInteger(n) ? String(n) : n.toFixed(digits);

/** One row per group: what an operator scans first. */
export function formatReport(r: LagReport): string {
  const t = new Table({
    head: ['group', 'state', 'status', 'members', 'lag', 'lag s', 'in /s', 'out /s', 'offsets'],
    style: { head: [], border: [] },
  });
  for (const g of r.groups) {
    t.push([
      g.group,
      g.state,
      g.status,
      g.members.length,
      g.lag,
      fmt(g.lagSeconds),
      fmt(g.rateIn),
      fmt(g.rateOut),
      g.offsetsIn,
    ]);
  }
  const warnings = r.warnings.map((w) => `\nwarning: ${w}`).join('');
  return `${t.toString()}\n${r.groups.length} group(s) at ${r.at} (sample ${r.tookMs} ms)${warnings}`;
}

/** Adds `feedlog lag` to the CLI. */
export function registerLagCommand(program: Command): Command {
  return program
    .command('lag')
    .description("consumer lag of every group with Burrow's status (the materializer's offsets from PostgreSQL)")
    .option('--group <name...>', 'only these groups (a trailing * matches a prefix)')
    .option('--watch', 'refresh in place until Ctrl-C')
    .option('--json', 'machine-readable output on stdout (every partition)')
    .option(
      '--interval <ms>',
      'time between samples',
      (v) => {
        const n = Number.parseInt(v, 10);
        if (!Number.isInteger(n) || n < 100) throw new InvalidArgumentError('an integer of at least 100 (ms)');
        return n;
      },
      1000,
    )
    .action(async (o: LagCliOptions) => {
      const config = loadConfig();
      const pool = new pg.Pool({ connectionString: config.postgres.url, max: 2, connectionTimeoutMillis: 3_000 });
      pool.on('error', () => undefined);
      const filter = groupFilter(o.group);
      const monitor = new LagMonitor({
        kafka: createKafka(config, { clientId: `${config.kafka.clientId}-lag` }),
        pool: await reachable(pool),
        ...(filter ? { groups: filter } : {}),
        minDistanceMs: Math.min(1000, o.interval),
      });
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      try {
        // one sample cannot tell a stall from a start: the first status needs two
        await monitor.sample();
        await sleep(o.interval, undefined, { signal: stop.signal }).catch(() => undefined);
        let report: LagReport | Error = await monitor.sample();
        if (!o.watch) {
          if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          else process.stdout.write(`${formatReport(report)}\n`);
          return;
        }
        while (!stop.signal.aborted) {
          // a failed sample (broker restarting) is shown in place of the table; the next one retries
          if (report instanceof Error) {
            if (o.json) process.stderr.write(`feedlog: lag sample failed: ${report.message}\n`);
            else logUpdate(`lag sample failed: ${report.message} (retrying every ${o.interval} ms)`);
          } else if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
          else logUpdate(formatReport(report));
          await sleep(o.interval, undefined, { signal: stop.signal }).catch(() => undefined);
          if (!stop.signal.aborted) report = await monitor.sample().catch((e: unknown) => toError(e));
        }
        if (!o.json) logUpdate.done();
      } catch (e) {
        process.stderr.write(`feedlog: error: cannot read consumer lag: ${toError(e).message}\n`);
        process.stderr.write(`  hint: is Kafka at ${config.kafka.brokers.join(',')} up? (\`feedlog status\`)\n`);
        process.exitCode = 1;
      } finally {
        await monitor.close();
        await pool.end().catch(() => undefined);
      }
    });
}

const toError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/** The pool when PostgreSQL answers; without it only Kafka-committed offsets are shown (said on stderr). */
async function reachable(pool: pg.Pool): Promise<pg.Pool | undefined> {
  try {
    await pool.query('SELECT 1');
    return pool;
  } catch (e) {
    process.stderr.write(`feedlog: PostgreSQL unreachable (${(e as Error).message}); materializer offsets not shown\n`);
    return undefined;
  }
}
