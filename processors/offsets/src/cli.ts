import { writeFileSync } from 'node:fs';
import { loadConfig } from '@feedlog/common';
import type { Command, CommanderError } from 'commander';
import pg from 'pg';
import { applyReset } from './apply.ts';
import { type ResetCliOptions, resetRequest } from './args.ts';
import { formatOffsetsCsv } from './csv.ts';
import { EXIT, GroupActiveError, ResetUsageError } from './errors.ts';
import { createAdmin } from './kafka.ts';
import { planReset } from './plan.ts';
import { planJson, planTable, summary } from './render.ts';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Adds `reset-offsets` (the options of `kafka-consumer-groups --reset-offsets`) to the feedlog CLI. */
export function registerResetOffsetsCommand(program: Command): Command {
  return program
    .command('reset-offsets')
    .description(
      "plan (default) or --execute a consumer group's offset reset, as kafka-consumer-groups --reset-offsets does; the materializer's offsets in PostgreSQL too. Exit codes: 0 done, 1 failed, 2 bad input, 3 refused (group active)",
    )
    .option('--group <id>', 'the consumer group')
    .option('--topic <topic[:p,...]>', 'a topic, or some of its partitions (repeatable)', collect)
    .option('--all-topics', 'every partition the group has committed offsets for')
    .option('--to-earliest', 'the log start')
    .option('--to-latest', 'the log end')
    .option('--to-current', 'the committed offset (the log end where there is none)')
    .option('--to-offset <n>', 'offset n (clamped to the log)')
    .option('--shift-by <n>', 'the committed offset ± n (clamped to the log)')
    .option('--to-datetime <iso>', 'first record at or after YYYY-MM-DDTHH:mm:SS.sss[zone] (UTC without one)')
    .option('--by-duration <PnDTnHnMnS>', 'first record at or after now − the duration')
    .option('--from-file <csv>', 'offsets of a topic,partition,offset file (Kafka --export format)')
    .option('--dry-run', 'show the plan only (the default)')
    .option('--execute', 'apply the plan')
    .option('--export [file]', 'write the plan as topic,partition,offset CSV (stdout without a file)')
    .option(
      '--offsets-in <where>',
      'auto | kafka | postgres (the materializer keeps its offsets in consumer_offsets)',
      'auto',
    )
    .option('--new-group', 'allow a group that has no offsets yet (creates them on --execute)')
    .option('--json', 'machine-readable output on stdout')
    .option('--database-url <url>', 'PostgreSQL connection string (default DATABASE_URL)')
    .exitOverride((e: CommanderError) => {
      // commander's own parse errors (unknown option, missing value) are bad input too
      process.exit(e.exitCode === 0 ? 0 : EXIT.usage);
    })
    .action(async (o: ResetCliOptions & { databaseUrl?: string }) => {
      process.exitCode = await runResetOffsets(o);
    });
}

/** The command's body; returns the exit code (so tests can run it in-process). */
export async function runResetOffsets(o: ResetCliOptions & { databaseUrl?: string }): Promise<number> {
  const err = (msg: string) => process.stderr.write(`feedlog reset-offsets: ${msg}\n`);
  let req: ReturnType<typeof resetRequest>;
  try {
    req = resetRequest(o);
  } catch (e) {
    if (e instanceof ResetUsageError) {
      err(e.message);
      if (o.json) process.stdout.write(`${JSON.stringify({ error: 'usage', message: e.message })}\n`);
      return EXIT.usage;
    }
    throw e;
  }
  const config = loadConfig();
  const admin = createAdmin(config.kafka.brokers);
  const pool =
    req.offsetsIn === 'kafka'
      ? undefined
      : new pg.Pool({ connectionString: o.databaseUrl ?? config.postgres.url, max: 2 });
  pool?.on('error', () => {}); // an idle client dropped by the server; the next query reports it
  try {
    const plan = await planReset({
      admin,
      ...(pool ? { pool } : {}),
      groupId: req.groupId,
      ...(req.scope ? { scope: req.scope } : {}),
      mode: req.mode,
      offsetsIn: req.offsetsIn,
      allowNewGroup: !!o.newGroup,
    });
    const result = req.execute ? await applyReset(plan, { admin, ...(pool ? { pool } : {}) }) : undefined;
    if (o.export !== undefined && o.export !== false) {
      const csv = formatOffsetsCsv(plan.partitions);
      if (typeof o.export === 'string') writeFileSync(o.export, csv);
      else {
        process.stdout.write(csv);
        return EXIT.done;
      }
    }
    if (o.json) process.stdout.write(`${JSON.stringify(planJson(plan, req.execute, result), null, 2)}\n`);
    else process.stdout.write(`${planTable(plan)}\n${summary(plan, req.execute, result)}\n`);
    return EXIT.done;
  } catch (e) {
    const code = e instanceof GroupActiveError ? EXIT.refused : e instanceof ResetUsageError ? EXIT.usage : EXIT.failed;
    const message = e instanceof Error ? e.message : String(e);
    err(code === EXIT.refused ? `refused: ${message}` : code === EXIT.usage ? message : `failed: ${message}`);
    if (o.json) {
      process.stdout.write(
        `${JSON.stringify({
          error: code === EXIT.refused ? 'refused' : code === EXIT.usage ? 'usage' : 'failed',
          message,
          ...(e instanceof GroupActiveError ? { members: e.members } : {}),
        })}\n`,
      );
    }
    return code;
  } finally {
    await admin.close().catch(() => {});
    await pool?.end().catch(() => {});
  }
}
