import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FeedlogConfig } from '@feedlog/common/config';
import { ConfigError } from '@feedlog/common/define-env';
import { currentValue, envMarkdown, replaceDocsSection } from '@feedlog/common/env-compose';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { envRegistry } from './env-registry.ts';

interface ConfigOptions {
  json?: boolean;
  docs?: boolean;
  write?: string;
  check?: boolean;
  env?: boolean;
}

/** The rows `feedlog config` prints: every variable of every package, secrets masked. */
export function configRows(env?: NodeJS.ProcessEnv) {
  return envRegistry.entries.map((e) => ({
    name: e.name,
    default: e.default,
    value: currentValue(e, env),
    package: e.owner.replace('@feedlog/', ''),
    readBy: e.readBy.map((p) => p.replace('@feedlog/', '')),
    secret: e.secret,
    deprecatedNames: [...e.deprecatedNames],
    doc: e.doc,
  }));
}

/** README's configuration table, as `--docs` prints it. */
export const configDocs = (): string => envMarkdown(envRegistry.entries);

/** `file` with its generated configuration section replaced; true when it changed. */
export function writeConfigDocs(file: string): boolean {
  const before = readFileSync(file, 'utf8');
  const after = replaceDocsSection(before, configDocs());
  if (after !== before) writeFileSync(file, after);
  return after !== before;
}

export function registerConfigCommand(program: Command, config: () => FeedlogConfig): void {
  program
    .command('config')
    .description('every environment variable feedlog reads: default, current value (secrets masked), meaning, package')
    .option('--json', 'machine-readable output on stdout')
    .option('--docs', 'the Markdown table README holds')
    .option('--write <file>', 'with --docs: replace the generated section of <file> (e.g. README.md)')
    .option('--check', 'validate the current environment; exit 1 naming every offending variable')
    .option('--env', 'print `export` lines for the client addresses, for eval in a shell')
    .action((opts: ConfigOptions) => {
      if (opts.env) {
        const c = config();
        process.stdout.write(
          `export KAFKA_BROKERS=${c.kafka.brokers.join(',')}\nexport DATABASE_URL=${c.postgres.url}\nexport SCHEMA_REGISTRY_URL=${c.registry.url}\nexport EMBEDDING_BASE_URL=${c.embedder.baseUrl}\n`,
        );
        return;
      }
      if (opts.check) {
        const issues = envRegistry.check();
        if (opts.json) process.stdout.write(`${JSON.stringify({ ok: issues.length === 0, issues }, null, 2)}\n`);
        else if (issues.length === 0)
          process.stdout.write(`configuration ok (${envRegistry.entries.length} variables)\n`);
        if (issues.length)
          throw new ConfigError(
            `invalid configuration: ${issues.map((i) => i.name).join(', ')}\n${issues.map((i) => `  ${i.message}`).join('\n')}`,
            issues,
          );
        return;
      }
      if (opts.docs || opts.write) {
        if (opts.write) {
          const file = resolve(opts.write);
          const changed = writeConfigDocs(file);
          process.stderr.write(`feedlog: ${file}: ${changed ? 'configuration table updated' : 'already up to date'}\n`);
        } else process.stdout.write(configDocs());
        return;
      }
      const rows = configRows();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const t = new Table({
        head: ['name', 'default', 'value', 'package', 'doc'],
        colWidths: [34, 24, 22, 12, 60],
        wordWrap: true,
        style: { head: [], border: [] },
      });
      for (const r of rows) t.push([r.name, r.default, r.value, r.package, r.doc]);
      process.stdout.write(`${t.toString()}\n`);
    });
}
