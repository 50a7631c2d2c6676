import { loadConfig } from '@feedlog/common';
import Table from 'cli-table3';
import type { Command } from 'commander';
import pg from 'pg';
import { MigrationError, migrate } from './migrate.ts';

/** Adds `migrate [--dry-run] [--json]` to the feedlog CLI. */
export function registerMigrateCommands(program: Command): Command {
  return program
    .command('migrate')
    .description('apply the pending PostgreSQL migrations (migrations/NNNN_*.sql) in order, each in a transaction')
    .option('--dry-run', 'list what would be applied; change nothing', false)
    .option('--json', 'print the result as JSON', false)
    .option('--database-url <url>', 'PostgreSQL connection string (default DATABASE_URL)')
    .action(async (o: { dryRun: boolean; json: boolean; databaseUrl?: string }) => {
      const pool = new pg.Pool({ connectionString: o.databaseUrl ?? loadConfig().postgres.url, max: 1 });
      pool.on('error', () => {}); // an idle client dropped by the server; the next query reports it
      try {
        const r = await migrate(pool, {
          dryRun: o.dryRun,
          log: o.json ? undefined : (l) => process.stderr.write(`${l}\n`),
        });
        if (o.json) {
          process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
          return;
        }
        const t = new Table({ head: ['migration', 'state', 'applied at', 'ms', 'sha256'] });
        for (const m of r.migrations)
          t.push([m.name, m.state, m.appliedAt ?? '-', m.ms ?? '-', m.checksum.slice(0, 12)]);
        process.stdout.write(`${t.toString()}\n`);
        const pending = r.migrations.filter((m) => m.state === 'pending').length;
        process.stdout.write(
          r.dryRun
            ? `dry run (schema ${r.schema}): ${pending} pending\n`
            : r.applied.length
              ? `applied ${r.applied.length} migration(s) to schema ${r.schema}\n`
              : `schema ${r.schema} is up to date\n`,
        );
      } catch (e) {
        if (!(e instanceof MigrationError)) throw e;
        if (o.json) process.stdout.write(`${JSON.stringify({ error: e.name, file: e.file, message: e.message })}\n`);
        process.stderr.write(`feedlog migrate: ${e.message}\n`);
        process.exitCode = 1;
      } finally {
        await pool.end();
      }
    });
}
