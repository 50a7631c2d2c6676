import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { migrate } from '@feedlog/migrations';
import type { Kafka } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// the project's own launcher (what `feedlog up` uses): initdb, pg_ctl start, role + database feedlog
import {
  type PostgresSpec,
  pgBinDir,
  postgresDataDir,
  postgresPid,
  startPostgres,
  stopPostgres,
} from '../../../scripts/src/launch/postgres.ts';
import { type FixtureRecord, pipelineFixture } from '../src/fixtures.ts';
// the chaos kit (child, disturbances, comparison with a clean run), shared with the other chaos test
import * as kit from './chaos-helpers.ts';
import { canonicalDump, deleteTopics, isolatedTopics, migratedSchema, type TestDb, testKafka } from './helpers.ts';

const ITEMS = Number(process.env.CHAOS_PG_ITEMS ?? 1_200);
const MIN_KILLS = Number(process.env.CHAOS_KILLS ?? 3);
const MIN_CRASHES = Number(process.env.CHAOS_PG_CRASHES ?? 3);
const PORT = Number(process.env.CHAOS_PG_PORT ?? 55_499);

const isRoot = process.getuid?.() === 0;

/**
 * pg_ctl as the postgres user when we are root, as the launcher runs it. The binaries are there:
 * startPostgres (beforeAll) installs them the launcher's way or fails with its install hint.
 */
function pgCtl(args: string[]): { ok: boolean; out: string } {
  const bin = pgBinDir();
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  const cmd = join(bin, 'pg_ctl');
  const r = isRoot
    ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' })
    : spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** `preferred` when nothing listens there, else any free port. */
async function freePort(preferred: number): Promise<number> {
  const tryPort = (p: number) =>
    new Promise<number | undefined>((res) => {
      const s = createServer();
      s.once('error', () => res(undefined));
      s.listen(p, '127.0.0.1', () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => res(port));
      });
    });
  return (await tryPort(preferred)) ?? (await tryPort(0))!;
}

/**
 * Chaos with a PostgreSQL server of its own: the materializer child is SIGKILLed at random points
 * and, at other random points, the server itself is crashed (`pg_ctl stop -m immediate`: no
 * checkpoint, crash recovery from the WAL on the next start) and restarted by the project's
 * launcher, while the log grows. The final tables must equal a clean run's over the same log.
 */
describe('materializer under SIGKILL and PostgreSQL crashes (a cluster of its own)', () => {
  let kafka: Kafka;
  let prefix: string;
  let tmp: string;
  let spec: PostgresSpec;
  let dataDir: string;
  let url: string;
  let pool: pg.Pool;
  let clean: TestDb;
  let fixture: FixtureRecord[];
  const launcherLog: string[] = [];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'feedlog-pgcrash-'));
    chmodSync(tmp, 0o755); // the postgres user must reach the data directory inside
    spec = { dir: join(tmp, 'pgdata'), port: await freePort(PORT) };
    const started = await startPostgres(spec, (s) => launcherLog.push(s));
    dataDir = started.dataDir;
    url = started.url;
    pool = new pg.Pool({ connectionString: url, max: 3, connectionTimeoutMillis: 5_000 });
    pool.on('error', () => {}); // idle connections die with the server; the pool opens new ones
    await migrate(pool);

    kafka = testKafka('materialize-chaos-pg');
    prefix = await isolatedTopics(kafka, 'matpgcrash');
    clean = await migratedSchema('matpgclean'); // the reference run, on the shared server
    fixture = pipelineFixture({ items: ITEMS, jobs: 3, prefix, regenEvery: 9, failEvery: 31, garbage: 6 });
  }, 120_000);

  afterAll(async () => {
    await pool?.end().catch(() => {});
    await clean?.drop();
    if (kafka && prefix) await deleteTopics(kafka, prefix);
    if (spec) {
      await stopPostgres(spec).catch(() => pgCtl(['-D', postgresDataDir(spec), '-m', 'immediate', '-w', 'stop']));
      rmSync(postgresDataDir(spec), { recursive: true, force: true });
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 120_000);

  it('ends with exactly the tables of a clean run', async () => {
    const recoveriesBefore = recoveries();
    const producing = await kit.growLog(kafka, prefix, fixture);
    const { group, env } = kit.chaosEnv(url, prefix, 'matpgcrash');
    const log: string[] = [`dedicated PostgreSQL on port ${spec.port}, data ${dataDir}`];
    const { handle, counts } = await kit.runChaos({
      env,
      log,
      deadlineMs: 150_000,
      disturbances: {
        SIGKILL: {
          min: MIN_KILLS,
          act: async (h) => `${await kit.killChild(h)} at stored sum ${await kit.storedProgress(pool, group)}`,
        },
        'postgres crash': {
          min: MIN_CRASHES,
          act: async () => {
            const pid = postgresPid(dataDir);
            const stop = pgCtl(['-D', dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop']);
            if (!stop.ok) throw new Error(`pg_ctl stop -m immediate failed:\n${stop.out}`);
            const down = Math.round(300 + Math.random() * 1_500); // the child meets a dead server meanwhile
            await sleep(down);
            await startPostgres(spec, (s) => launcherLog.push(s));
            return `postmaster ${pid} stopped -m immediate, down ${down} ms, restarted by the launcher; stored sum ${await kit.storedProgress(pool, group)}`;
          },
        },
      },
    });
    log.push(
      `chaos over at stored sum ${await kit.storedProgress(pool, group)} of ${fixture.length} records; letting the last child finish`,
    );
    await producing;
    await kit.finishChaos(handle, kafka, { pool }, prefix, group, log);
    expect(counts.SIGKILL).toBe(MIN_KILLS);
    expect(counts['postgres crash']).toBe(MIN_CRASHES);
    // every restart really was a crash recovery (the server log says so), not a clean start
    expect(recoveries() - recoveriesBefore).toBe(MIN_CRASHES);
    // and the materializer met them: batches retried or connections lost, not a crash while idle
    expect(kit.eventsOf(handle, 'retry') + kit.eventsOf(handle, 'error')).toBeGreaterThan(0);
    const actual = await canonicalDump(pool, group);

    // the reference: one undisturbed run over the same, now complete, log
    await kit.expectEqualsCleanRun(actual, kafka, clean, prefix, ITEMS);
  }, 240_000);

  /** Starts after a crash, as counted in the server's log. */
  function recoveries(): number {
    const f = join(dataDir, 'server.log');
    if (!existsSync(f)) return 0;
    return readFileSync(f, 'utf8').split('automatic recovery in progress').length - 1;
  }
});
