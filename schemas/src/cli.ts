import { loadConfig } from '@feedlog/common';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { schemasDir } from './files.ts';
import { loadSchemas } from './load.ts';
import {
  type CompatibilityResult,
  checkCompatibility,
  RegistryRestClient,
  registerAll,
  seedFromGitRef,
} from './registry.ts';

type RegistryOpt = { registry?: string; json: boolean };

const client = (o: RegistryOpt) => new RegistryRestClient(o.registry ?? loadConfig().registry.url);

/** Adds `schemas register`, `schemas check` and `schemas seed-from <ref>` to the feedlog CLI. */
export function registerSchemaCommands(program: Command): Command {
  const schemas = program.command('schemas').description('Avro schemas in schemas/ and the schema registry');

  schemas
    .command('register')
    .description('register every .avsc under the subjects of the topics that carry it (<topic>-value)')
    .option('--registry <url>', 'schema registry URL (default SCHEMA_REGISTRY_URL)')
    .option('--json', 'print JSON', false)
    .action(async (o: RegistryOpt) => {
      const r = await registerAll(client(o));
      if (o.json) console.log(JSON.stringify(r, null, 2));
      else {
        const table = new Table({ head: ['subject', 'record', 'id'] });
        for (const s of r.registered) table.push([s.subject, s.record, s.id]);
        console.log(table.toString());
      }
    });

  schemas
    .command('check')
    .description('fail when a schema in schemas/ is not compatible with the latest registered version of its subject')
    .option('--registry <url>', 'schema registry URL (default SCHEMA_REGISTRY_URL)')
    .option('--json', 'print JSON', false)
    .action(async (o: RegistryOpt) => {
      const results = await checkCompatibility(client(o));
      const bad = results.filter((r) => r.status === 'incompatible');
      if (o.json) console.log(JSON.stringify({ ok: bad.length === 0, results }, null, 2));
      else console.log(formatCheck(results));
      if (bad.length > 0) process.exitCode = 1;
    });

  schemas
    .command('seed-from')
    .description('register the .avsc files as they were at a git ref (CI: seed from the previous commit, then check)')
    .argument('<git-ref>', 'commit, branch or tag')
    .option('--registry <url>', 'schema registry URL (default SCHEMA_REGISTRY_URL)')
    .option('--json', 'print JSON', false)
    .action(async (ref: string, o: RegistryOpt) => {
      const r = await seedFromGitRef(client(o), ref, { cwd: schemasDir, schemas: loadSchemas() });
      if (o.json) console.log(JSON.stringify({ ref, ...r }, null, 2));
      else {
        for (const s of r.registered) console.log(`${s.subject}: ${s.record} at ${ref} → id ${s.id}`);
        for (const s of r.skipped) console.log(`${s.subject}: skipped (${s.record}: ${s.reason} at ${ref})`);
      }
    });

  return schemas;
}

/** Human report of `schemas check`: one line per subject; each incompatible one names its fields. */
export function formatCheck(results: CompatibilityResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    if (r.status === 'new-subject') {
      lines.push(`ok        ${r.subject} (${r.record}): not registered yet`);
      continue;
    }
    const v = r.registeredVersion === undefined ? '' : ` vs version ${r.registeredVersion}`;
    if (r.status === 'compatible') {
      const changed = r.changes.length ? `; ${r.changes.length} field change(s)` : '';
      lines.push(`ok        ${r.subject} (${r.record}${v}, ${r.level ?? '?'})${changed}`);
      continue;
    }
    lines.push(`INCOMPATIBLE ${r.subject} (${r.record}${v}, ${r.level ?? '?'})`);
    const offending = r.changes.filter((c) => c.offending);
    for (const c of offending.length ? offending : r.changes) lines.push(`  field ${c.path}: ${describe(c)}`);
    for (const m of r.messages) lines.push(`  registry: ${m}`);
  }
  const bad = results.filter((r) => r.status === 'incompatible').length;
  lines.push(bad ? `${bad} subject(s) incompatible` : `all ${results.length} subjects compatible`);
  return lines.join('\n');
}

function describe(c: CompatibilityResult['changes'][number]): string {
  switch (c.kind) {
    case 'added':
      return c.hasDefault ? 'added with a default' : 'added without a default (old records cannot be read)';
    case 'removed':
      return c.hasDefault ? 'removed (it had a default)' : 'removed, and it had no default (old readers break)';
    default:
      return `type changed from ${c.from} to ${c.to}`;
  }
}
