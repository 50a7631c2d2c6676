// `feedlog bench …`: benchmarks that are commands (the others are scripts under bench/*.ts).
import type { Command } from 'commander';
import { registerE2ECommand } from './e2e/cli.ts';
import { registerRedisCommand } from './redis/cli.ts';

export function registerBenchCommands(program: Command): Command {
  const bench = program.command('bench').description('benchmarks with same-run baselines (issue 15)');
  registerE2ECommand(bench);
  registerRedisCommand(bench);
  return bench;
}
