import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafka, loadConfig } from '@feedlog/common';
import type { Kafka } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

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

export interface TestSchema {
  pool: pg.Pool;
  schema: string;
  /** DATABASE_URL with search_path set to the schema: hand it to a child process or a CLI */
  url: string;
  drop: () => Promise<void>;
}

/** A PostgreSQL schema of its own for one test; dropped by the returned cleanup. */
export async function testSchema(prefix: string): Promise<TestSchema> {
  const schema = uniqueName(prefix)
    .replace(/[^a-z0-9_]/gi, '_')
    .toLowerCase();
  const base = process.env.DATABASE_URL ?? loadConfig().postgres.url;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: base, max: 5, options: `-c search_path=${schema}` });
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    pool,
    schema,
    url: url.toString(),
    drop: async () => {
      await pool.end();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP SCHEMA "${schema}" CASCADE`);
      await c.end();
    },
  };
}

/**
 * For one describe block: a schema of its own, prepared by `prepare` (e.g. `migrate`), with
 * DATABASE_URL pointing at it from beforeAll to afterAll (for code that reads the environment,
 * such as CLI commands). Returns the schema once beforeAll ran.
 */
export function databaseUrlOnSchema(name: string, prepare: (pool: pg.Pool) => Promise<unknown>): () => TestSchema {
  let s: TestSchema | undefined;
  const before = process.env.DATABASE_URL;
  beforeAll(async () => {
    s = await testSchema(name);
    await prepare(s.pool);
    process.env.DATABASE_URL = s.url;
  });
  afterAll(async () => {
    process.env.DATABASE_URL = before;
    await s?.drop();
  });
  return () => {
    if (!s) throw new Error('databaseUrlOnSchema: the schema exists from beforeAll on');
    return s;
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
