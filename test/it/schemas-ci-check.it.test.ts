import { spawnSync } from 'node:child_process';
import {
  checkCompatibility,
  formatCheck,
  loadSchemas,
  RegistryRestClient,
  schemasDir,
  seedFromGitRef,
} from '@feedlog/schemas';
import { uniqueName } from '@feedlog/test';
import { describe, expect, it } from 'vitest';

// CI's schema gate: a registry seeded from the previous commit's schemas must accept the current
// ones. Runs against whichever real registry the harness provides, under a prefix of its own.
const registry = process.env.SCHEMA_REGISTRY_URL;
const parent = spawnSync('git', ['rev-parse', '--verify', '--quiet', 'HEAD~1'], { cwd: schemasDir, encoding: 'utf8' });
const previous = parent.status === 0 ? parent.stdout.trim() : undefined;
if (!registry) console.warn('SKIPPED schemas CI check: no schema registry (SCHEMA_REGISTRY_URL) in this run');
if (!previous) console.warn('SKIPPED schemas CI check: no previous commit in this clone (shallow or first commit)');

describe.skipIf(!registry || !previous)('schemas check against the previous commit', () => {
  it("accepts every schema in schemas/ under the registered previous commit's versions", async () => {
    const client = new RegistryRestClient(registry ?? '');
    const schemas = loadSchemas({ prefix: `${uniqueName('ci')}.` });
    const seeded = await seedFromGitRef(client, previous ?? 'HEAD~1', { cwd: schemasDir, schemas });
    const results = await checkCompatibility(client, { schemas });
    const report = formatCheck(results);
    console.log(`seeded ${seeded.registered.length} subject(s) from ${previous?.slice(0, 10)}\n${report}`);
    expect(results.length).toBe(schemas.subjects.length);
    expect(
      results.filter((r) => r.status === 'incompatible'),
      report,
    ).toEqual([]);
  });
});
