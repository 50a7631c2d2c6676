import type { Kafka } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FixtureRecord, pipelineFixture } from '../src/fixtures.ts';
// the chaos kit (child, disturbances, comparison with a clean run), shared with the other chaos test
import * as kit from './chaos-helpers.ts';
import { canonicalDump, deleteTopics, isolatedTopics, migratedSchema, type TestDb, testKafka } from './helpers.ts';

const ITEMS = Number(process.env.CHAOS_ITEMS ?? 2_000);
const MIN_KILLS = Number(process.env.CHAOS_KILLS ?? 5);
const MIN_TERMINATIONS = Number(process.env.CHAOS_TERMINATIONS ?? 5);

/**
 * Chaos: the materializer as a child process, SIGKILLed at random points, and its PostgreSQL
 * connections terminated (pg_terminate_backend, so the shared server other engineers' tests use
 * is not restarted) at other random points, while it works through a few thousand records.
 * The final tables must equal those of a clean, undisturbed run over the same log.
 * (chaos-pg-crash.it.test.ts crashes a PostgreSQL server of its own instead.)
 */
describe('materializer under SIGKILL and lost PostgreSQL connections', () => {
  let kafka: Kafka;
  let prefix: string;
  let clean: TestDb;
  let chaos: TestDb;
  let admin: pg.Client;
  let fixture: FixtureRecord[];

  beforeAll(async () => {
    kafka = testKafka('materialize-chaos');
    prefix = await isolatedTopics(kafka, 'matchaos');
    clean = await migratedSchema('matclean');
    chaos = await migratedSchema('matchaos');
    fixture = pipelineFixture({ items: ITEMS, jobs: 4, prefix, regenEvery: 9, failEvery: 31, garbage: 6 });
    admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await clean?.drop();
    await chaos?.drop();
    await deleteTopics(kafka, prefix);
  });

  it('ends with exactly the tables of a clean run', async () => {
    const producing = await kit.growLog(kafka, prefix, fixture);
    const { group, appName, env } = kit.chaosEnv(chaos.url, prefix, 'matchaos');
    const log: string[] = [];
    let terminatedBackends = 0;
    const { handle, counts } = await kit.runChaos({
      env,
      log,
      disturbances: {
        SIGKILL: {
          min: MIN_KILLS,
          act: async (h) => `${await kit.killChild(h)} at stored sum ${await kit.storedProgress(chaos.pool, group)}`,
        },
        pg_terminate_backend: {
          min: MIN_TERMINATIONS,
          act: async () => {
            const r = await admin.query(
              'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1',
              [appName],
            );
            terminatedBackends += r.rows[0].n;
            return `${r.rows[0].n} connection(s) at stored sum ${await kit.storedProgress(chaos.pool, group)}`;
          },
        },
      },
    });
    log.push(
      `chaos over at stored sum ${await kit.storedProgress(chaos.pool, group)} of ${fixture.length} records; letting the last child finish`,
    );
    await producing;
    await kit.finishChaos(handle, kafka, chaos, prefix, group, log);
    expect(counts.SIGKILL).toBe(MIN_KILLS);
    expect(counts.pg_terminate_backend).toBe(MIN_TERMINATIONS);
    expect(terminatedBackends).toBeGreaterThan(0);
    const actual = await canonicalDump(chaos.pool, group);

    // the reference: one undisturbed run over the same, now complete, log
    await kit.expectEqualsCleanRun(actual, kafka, clean, prefix, ITEMS);
  }, 600_000);
});
