import { spawnSync } from 'node:child_process';
import {
  checkCompatibility,
  formatCheck,
  loadSchemas,
  RegistryRestClient,
  schemasDir,
  seedFromGitRef,
} from '@feedlog/schemas';
import { registryUrl, uniqueName } from '@feedlog/test';
import { describe, expect, it } from 'vitest';

// CI's schema gate: a registry seeded from the previous commit's schemas must accept the current
// ones. Runs against whichever real registry the harness provides, under a prefix of its own.
// Neither gap is a reason to skip: the harness always provides the registry, and a clone without
// the previous commit (a shallow CI checkout) fails with what to change.
const parent = spawnSync('git', ['rev-parse', '--verify', '--quiet', 'HEAD~1'], { cwd: schemasDir, encoding: 'utf8' });
const previous = parent.status === 0 ? parent.stdout.trim() : undefined;

describe('schemas check against the previous commit', () => {
  it("accepts every schema in schemas/ under the registered previous commit's versions", async () => {
    if (!previous) throw new Error('no HEAD~1 in this clone: check out at least two commits (fetch-depth: 2)');
    const client = new RegistryRestClient(registryUrl());
    const schemas = loadSchemas({ prefix: `${uniqueName('ci')}.` });
    const seeded = await seedFromGitRef(client, previous, { cwd: schemasDir, schemas });
    const results = await checkCompatibility(client, { schemas });
    const report = formatCheck(results);
    console.log(`seeded ${seeded.registered.length} subject(s) from ${previous.slice(0, 10)}\n${report}`);
    expect(results.length).toBe(schemas.subjects.length);
    expect(
      results.filter((r) => r.status === 'incompatible'),
      report,
    ).toEqual([]);
  });
});
