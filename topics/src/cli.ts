import { createKafka, loadConfig } from '@feedlog/common';
import type { Command } from 'commander';
import { applyTopics } from './apply.ts';
import { declareFeedlog } from './declarations.ts';
import { formatApplyReport, formatTopicList } from './report.ts';

/** Adds `topics apply` and `topics list` to the feedlog CLI. */
export function registerTopicCommands(program: Command): Command {
  const topics = program.command('topics').description('topics as code: declared feedlog topics and their drift');

  topics
    .command('apply')
    .description('create missing topics, grow partitions, fix configs; report drift (never deletes without --force)')
    .option('--dry-run', 'show the plan, change nothing', false)
    .option('--force', 'delete undeclared feedlog topics', false)
    .option('--json', 'print the result as JSON', false)
    .option('--prefix <prefix>', 'prefix of every topic name (isolated environments, tests)', '')
    .action(async (o: { dryRun: boolean; force: boolean; json: boolean; prefix: string }) => {
      const config = loadConfig();
      const admin = createKafka(config, { clientId: `${config.kafka.clientId}-topics` }).admin();
      try {
        const result = await applyTopics({ admin, dryRun: o.dryRun, force: o.force, prefix: o.prefix });
        console.log(o.json ? JSON.stringify(result, null, 2) : formatApplyReport(result));
      } finally {
        await admin.disconnect();
      }
    });

  topics
    .command('list')
    .description('the declared topics')
    .option('--json', 'print the declarations as JSON', false)
    .option('--prefix <prefix>', 'prefix of every topic name', '')
    .option('--brokers <n>', 'show replication as capped for a cluster of n brokers', (v) => Number.parseInt(v, 10))
    .action((o: { json: boolean; prefix: string; brokers?: number }) => {
      const d = declareFeedlog({ prefix: o.prefix });
      if (o.json) console.log(JSON.stringify({ topics: d.topics, stages: d.stages }, null, 2));
      else console.log(formatTopicList(d.topics, o.brokers));
    });

  return topics;
}
