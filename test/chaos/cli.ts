import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { runChaos } from './run.ts';
import type { Scale } from './scenarios.ts';
import { formatTable, passed } from './table.ts';

/**
 * `feedlog chaos [--scale ci|full] [--scenario a,b] [--json] [--out file]`: the chaos suite by hand.
 * Needs KAFKA_BROKERS (a running broker: `feedlog up --only kafka`, or the shared one); starts its
 * own PostgreSQL, registry, stages, materializer and API on its own ports (POSTGRES_PORT,
 * SCHEMA_REGISTRY_PORT, EMBEDDER_PORT, API_PORT, STAGE_PORT_BASE when set, else free ones).
 */
export function registerChaosCommand(program: Command): Command {
  return program
    .command('chaos')
    .description('run the pipeline under faults (SIGKILLs, poison, PostgreSQL down…) and print the invariants table')
    .option('--scale <scale>', 'ci (seconds per scenario) or full (minutes)', 'full')
    .option('--scenario <names>', 'comma-separated scenarios (default: all)', (v: string) => v.split(','))
    .option('--dir <dir>', 'directory for the run (PostgreSQL data, logs, index); default a temporary one')
    .option('--keep', 'keep the run directory afterwards')
    .option('--out <file>', 'also write the results as JSON to this file')
    .option('--items <n>', 'items pushed per scenario (at least; the load runs until the fault is healed)', Number)
    .option('--rate <n>', 'items per second pushed through the API', Number)
    .option('--json', 'machine-readable output on stdout')
    .action(
      async (o: {
        items?: number;
        rate?: number;
        scale: string;
        scenario?: string[];
        dir?: string;
        keep?: boolean;
        out?: string;
        json?: boolean;
      }) => {
        if (o.scale !== 'ci' && o.scale !== 'full') throw new Error('--scale must be ci or full');
        const env = process.env;
        const port = (v: string | undefined) => (v ? Number(v) : undefined);
        const ports = Object.fromEntries(
          Object.entries({
            postgres: port(env.POSTGRES_PORT),
            registry: port(env.SCHEMA_REGISTRY_PORT),
            embedder: port(env.EMBEDDER_PORT),
            api: port(env.API_PORT),
            stageBase: port(env.STAGE_PORT_BASE),
          }).filter(([, v]) => v !== undefined),
        );
        const errors: string[] = [];
        const kafkaPort = port(env.KAFKA_PORT);
        const results = await runChaos({
          errors,
          settings: {
            ...(o.items ? { items: o.items } : {}),
            ...(o.rate ? { rate: o.rate } : {}),
          },
          ...(kafkaPort ? { kafkaPort } : {}),
          scale: o.scale as Scale,
          ...(o.scenario ? { only: o.scenario } : {}),
          ...(o.dir ? { home: o.dir } : {}),
          ...(o.keep ? { keep: true } : {}),
          ports,
          log: (line) => process.stderr.write(`[chaos] ${line}\n`),
        });
        if (o.out) writeFileSync(o.out, `${JSON.stringify(results, null, 2)}\n`);
        if (o.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
        else {
          process.stdout.write(`${formatTable(results)}\n`);
          for (const r of results)
            process.stdout.write(
              `${r.scenario}: ${r.did}; ${r.rawRetries} client re-pushes; ${r.crashes.length} unexpected exits${r.examples.length ? `; e.g. ${r.examples.join(', ')}` : ''}\n`,
            );
        }
        for (const e of errors) process.stdout.write(`FAILED ${e}\n`);
        if (errors.length || !results.every(passed)) process.exitCode = 1;
      },
    );
}
