import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafka, loadConfig } from '@feedlog/common';
import type { Kafka } from 'kafkajs';
import pg from 'pg';

/** A name no other test, worker or earlier run uses: topics and groups never collide. */
export function uniqueName(prefix: string): string {
  const worker = process.env.VITEST_POOL_ID ?? '0';
  return `test.${prefix}.w${worker}.${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export function testKafka(clientId = 'feedlog-test'): Kafka {
  return createKafka(loadConfig(), { clientId });
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** A PostgreSQL schema of its own for one test; dropped by the returned cleanup. */
export async function testSchema(
  prefix: string,
): Promise<{ pool: pg.Pool; schema: string; drop: () => Promise<void> }> {
  const schema = uniqueName(prefix)
    .replace(/[^a-z0-9_]/gi, '_')
    .toLowerCase();
  const url = process.env.DATABASE_URL ?? loadConfig().postgres.url;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: url, max: 5, options: `-c search_path=${schema}` });
  return {
    pool,
    schema,
    drop: async () => {
      await pool.end();
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA "${schema}" CASCADE`);
      await c.end();
    },
  };
}

export { refCodec } from './codec.ts';
export { externalAddress, freePort, httpGet, type Spawned, spawnTs, waitHttpOk } from './process.ts';
export { registryUrl } from './registry.ts';
export { tempDirs } from './temp.ts';
export {
  applyPrefixedTopics,
  countByKey,
  deletePrefixedTopics,
  isolatedTopics,
  readCommitted,
  registerPrefixedSubjects,
  uniquePrefix,
} from './topics.ts';
