import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@feedlog/common/config';
import type { EnvSchema } from '@feedlog/common/define-env';
import { DOCS_BEGIN, DOCS_END } from '@feedlog/common/env-compose';
import { describe, expect, it } from 'vitest';
import { configDocs, configRows } from './config-command.ts';
import { envRegistry, envSchemas } from './env-registry.ts';

const root = repoRoot();

/** Every package's src/env.ts, found on disk (so a new one cannot be left out of the registry). */
function envModules(): string[] {
  const dirs = [
    ...readdirSync(join(root, 'processors')).map((d) => join(root, 'processors', d)),
    join(root, 'api'),
    join(root, 'scripts'),
  ];
  return dirs.map((d) => join(d, 'src/env.ts')).filter((f) => existsSync(f));
}

describe('the environment registry', () => {
  it('has one definition per name: no two packages define a variable differently', () => {
    expect(envRegistry.conflicts).toEqual([]);
  });

  it('composes the schema of every package that has a src/env.ts', async () => {
    const found: EnvSchema<unknown>[] = [];
    for (const f of envModules()) {
      const mod = (await import(f)) as Record<string, unknown>;
      for (const v of Object.values(mod))
        if (v && typeof v === 'object' && 'vars' in v && 'package' in v) found.push(v as EnvSchema<unknown>);
    }
    expect(found.length).toBeGreaterThanOrEqual(15);
    for (const s of found) expect(envSchemas, s.package).toContain(s);
  });

  it('uses one name per concept: the old names are only deprecated aliases', () => {
    const byName = new Map(envRegistry.entries.map((e) => [e.name, e]));
    expect(byName.get('FEEDLOG_TOPIC_PREFIX')?.deprecatedNames).toEqual(['TOPIC_PREFIX']);
    expect(byName.get('STAGE_HEALTH_PORT')?.deprecatedNames).toEqual(['HEALTH_PORT']);
    for (const old of ['TOPIC_PREFIX', 'HEALTH_PORT', 'HEALTH_HOST', 'REGISTRY_MAX_SCHEMA_BYTES', 'EMBED_MODEL'])
      expect(byName.has(old), old).toBe(false);
  });

  it('masks secrets in `feedlog config` rows', () => {
    const rows = configRows({ EMBEDDING_API_KEY: 'sk-live-1', DATABASE_URL: 'postgres://u:hunter2@db/x' });
    const text = JSON.stringify(rows);
    expect(text).not.toContain('sk-live-1');
    expect(text).not.toContain('hunter2');
    expect(rows.find((r) => r.name === 'EMBEDDING_API_KEY')?.value).toBe('***');
  });
});

describe("README's configuration table", () => {
  it('is the generated one (run `npm run docs:config` after changing an env.ts)', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const a = readme.indexOf(DOCS_BEGIN);
    const b = readme.indexOf(DOCS_END);
    expect(a, 'README has the generated-section markers').toBeGreaterThanOrEqual(0);
    expect(readme.slice(a + DOCS_BEGIN.length + 1, b)).toBe(configDocs());
  });

  it('lists every variable of the registry', () => {
    const docs = configDocs();
    for (const e of envRegistry.entries) expect(docs).toContain(`| \`${e.name}\` |`);
  });
});

describe('feedlog config --check', () => {
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, [join(root, 'bin/feedlog'), 'config', '--check'], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    });

  it('exits 1 naming each offending variable, and 0 when the environment is valid', () => {
    const bad = run({ KAFKA_PORT: '70000', LOG_BATCHES: 'yes', EMBEDDING_API_KEY: ' ' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/invalid configuration: .*KAFKA_PORT/);
    expect(bad.stderr).toMatch(/LOG_BATCHES="yes": expected true, false, 1 or 0/);
    expect(bad.stderr).toMatch(/EMBEDDING_API_KEY=\*\*\*/);
    const good = run({ KAFKA_PORT: '19092', LOG_BATCHES: '1' });
    expect(good.stderr).toBe('');
    expect(good.status).toBe(0);
  });
});
