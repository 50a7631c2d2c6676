import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '@feedlog/common';
import { describe, expect, it } from 'vitest';

describe('package-lock.json', () => {
  it('has an entry for every optional dependency it names, so `npm ci` accepts it', () => {
    const r = spawnSync(
      process.execPath,
      [join(repoRoot(), 'scripts/bin/lock-prune-optional.mjs'), '--check', `--root=${repoRoot()}`],
      {
        encoding: 'utf8',
      },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
