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

type CommonOpts = { registry?: string; json: boolean; prefix: string; schemasDir?: string };

const client = (o: CommonOpts) => new RegistryRestClient(o.registry ?? loadConfig().registry.url);
const schemasOf = (o: CommonOpts) => loadSchemas({ prefix: o.prefix, dir: o.schemasDir ?? schemasDir });

function common(cmd: Command): Command {
  return cmd
    .option('--registry <url>', 'schema registry URL (default SCHEMA_REGISTRY_URL)')
    .option('--json', 'print JSON', false)
    .option('--prefix <prefix>', 'topic-name prefix of the declarations (isolated environments, tests)', '')
    .option('--schemas-dir <dir>', 'folder of the .avsc files (default: schemas/)');
}

/** Adds `schemas register`, `schemas check` and `schemas seed-from <ref>` to the feedlog CLI. */
export function registerSchemaCommands(program: Command): Command {
  const schemas = program.command('schemas').description('Avro schemas in schemas/ and the schema registry');

  common(schemas.command('register'))
    .description('register every .avsc under the subjects of the topics that carry it (<topic>-value)')
    .action(async (o: CommonOpts) => {
      const r = await registerAll(client(o), { schemas: schemasOf(o) });
      if (o.json) console.log(JSON.stringify(r, null, 2));
      else {
        const table = new Table({ head: ['subject', 'record', 'id'], style: { head: [], border: [] } });
        for (const s of r.registered) table.push([s.subject, s.record, s.id]);
        console.log(table.toString());
      }
    });

  common(schemas.command('check'))
    .description('exit 1 when a schema in schemas/ is not compatible with the latest registered version of its subject')
    .action(async (o: CommonOpts) => {
      const results = await checkCompatibility(client(o), { schemas: schemasOf(o) });
      const bad = results.filter((r) => r.status === 'incompatible');
      if (o.json) console.log(JSON.stringify({ ok: bad.length === 0, results }, null, 2));
      else console.log(formatCheck(results));
      if (bad.length > 0) process.exitCode = 1;
    });

  common(schemas.command('seed-from'))
    .description('register the .avsc files as they were at a git ref (CI: seed from the previous commit, then check)')
    .argument('<git-ref>', 'commit, branch or tag')
    .action(async (ref: string, o: CommonOpts) => {
      const r = await seedFromGitRef(client(o), ref, { cwd: schemasDir, schemas: schemasOf(o) });
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
      lines.push(`ok           ${r.subject} (${r.record}): not registered yet`);
      continue;
    }
    const v = r.registeredVersion === undefined ? '' : ` vs version ${r.registeredVersion}`;
    if (r.status === 'compatible') {
      const changed = r.changes.length ? `; ${r.changes.length} field change(s)` : '';
      lines.push(`ok           ${r.subject} (${r.record}${v}, ${r.level ?? '?'})${changed}`);
      continue;
    }
    lines.push(`INCOMPATIBLE ${r.subject} (${r.record}${v}, ${r.level ?? '?'})`);
    const offending = r.changes.filter((c) => c.offending);
    for (const c of offending.length ? offending : r.changes) lines.push(`  field ${c.path}: ${describe(c)}`);
    // The registry's own words, minus the echo of the whole old schema.
    for (const m of r.messages.filter((x) => !x.startsWith('{oldSchema:'))) lines.push(`  registry: ${m}`);
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
