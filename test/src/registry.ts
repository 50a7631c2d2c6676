import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '@feedlog/common';
import pg from 'pg';
import { freePort } from './process.ts';

/**
 * The schema registry every integration test talks to. The global setup always provides one
 * (the environment's, the launcher's, or one it starts with `startRegistry`), so a test never
 * probes for it and never skips: a missing registry is a harness bug and fails loudly here.
 */
export function registryUrl(): string {
  const url = process.env.SCHEMA_REGISTRY_URL;
  if (!url) throw new Error('SCHEMA_REGISTRY_URL is unset: integration tests run under test/src/global-setup.ts');
  return url;
}

export interface StartedRegistry {
  url: string;
  stop: () => Promise<void>;
}

/**
 * The project's own registry (`processors/registry/src/main.ts`) as a child process on a free
 * loopback port, storing into a PostgreSQL schema of its own in `databaseUrl` (dropped on stop),
 * so it never shares ids with a registry already serving that database.
 */
export async function startRegistry(databaseUrl: string, log: (s: string) => void): Promise<StartedRegistry> {
  const port = await freePort();
  const pgSchema = `registry_test_${randomBytes(4).toString('hex')}`;
  const root = repoRoot();
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'processors/registry/src/main.ts')],
    {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        SCHEMA_REGISTRY_PORT: String(port),
        SCHEMA_REGISTRY_HOST: '127.0.0.1',
        SCHEMA_REGISTRY_PG_SCHEMA: pgSchema,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4_000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the test schema registry exited (${child.exitCode}): ${stderr}`);
    const ok = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(1_000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the test schema registry did not answer on ${url} within 60 s: ${stderr}`);
    }
    await sleep(200);
  }
  log(`schema registry (pid ${child.pid}) on ${url}, storage schema ${pgSchema}`);
  return {
    url,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))]);
      }
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`);
      await c.end();
    },
  };
}
