import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import type pg from 'pg';
import { expect } from 'vitest';
import type { FixtureRecord } from '../src/fixtures.ts';
import { startMaterializer } from '../src/materializer.ts';
import {
  type ChildMaterializer,
  canonicalDump,
  produceFixture,
  spawnMaterializer,
  type TestDb,
  uniqueName,
  waitCaughtUp,
  waitFor,
} from './helpers.ts';

/**
 * Shared by the chaos tests: the log grows while a materializer child process works through it and
 * is disturbed at random points; at the end its tables are compared with a clean run's.
 */

/** A quarter of the fixture up front, the rest in chunks while the chaos goes on. */
export async function growLog(kafka: Kafka, prefix: string, fixture: FixtureRecord[]): Promise<Promise<void>> {
  const upFront = Math.floor(fixture.length / 4);
  await produceFixture(kafka, prefix, fixture.slice(0, upFront));
  return (async () => {
    for (let i = upFront; i < fixture.length; i += 600) {
      await produceFixture(kafka, prefix, fixture.slice(i, i + 600));
      await sleep(700);
    }
  })();
}

/** The environment of a materializer child under chaos (small fetches: kills land everywhere in the cycle). */
export function chaosEnv(databaseUrl: string, prefix: string, name: string) {
  const group = uniqueName(name);
  const appName = `feedlog-materialize-chaos-${group.slice(-8)}`;
  const env = {
    DATABASE_URL: databaseUrl,
    FEEDLOG_TOPIC_PREFIX: prefix,
    MATERIALIZE_GROUP: group,
    MATERIALIZE_APP_NAME: appName,
    MATERIALIZE_SESSION_TIMEOUT_MS: '6000',
    MATERIALIZE_MAX_BYTES_PER_PARTITION: '12000',
    // small transactions: many commit points for the disturbances to land between, and a log the
    // child cannot drain in a few large batches before every disturbance has happened
    MATERIALIZE_MAX_BATCH_RECORDS: '20',
    MATERIALIZE_MIGRATE: '0',
    // CHAOS_MODE=at-least-once makes the chaos tests fail (records applied twice): a check that they can fail
    MATERIALIZE_MODE: process.env.CHAOS_MODE ?? 'exactly-once',
  };
  return { group, appName, env };
}

/** Sum of the offsets stored for the group (tolerates a database that is just coming back). */
export async function storedProgress(pool: pg.Pool, group: string): Promise<number | string> {
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await pool.query(
        'SELECT coalesce(sum(next_offset), 0) AS n FROM consumer_offsets WHERE group_id = $1',
        [group],
      );
      return Number(r.rows[0].n);
    } catch (e) {
      if (attempt >= 20) return `unknown (${(e as Error).message})`;
      await sleep(250);
    }
  }
}

/** The running child; a disturbance may replace it (`respawn`). */
export interface ChaosHandle {
  child: ChildMaterializer;
  /** Every child started, the current one last. */
  children: ChildMaterializer[];
  respawn(): void;
}

/** Events of one kind over every child of the run. */
export const eventsOf = (h: ChaosHandle, kind: string) =>
  h.children.reduce((n, c) => n + c.events.filter((e) => e.event === kind).length, 0);

/** A disturbance: does its harm and returns a line for the log. */
export type Disturbance = (h: ChaosHandle) => Promise<string>;

/**
 * Runs a materializer child with `env` and, each time it has applied a fresh batch, waits a random
 * moment and applies one of the disturbances (chosen at random among those not yet done
 * `min` times) until every one has been done `min` times. Returns the last, still running child.
 */
export async function runChaos(opts: {
  env: Record<string, string>;
  disturbances: Record<string, { min: number; act: Disturbance }>;
  log: string[];
  deadlineMs?: number;
}): Promise<{ handle: ChaosHandle; counts: Record<string, number> }> {
  const first = spawnMaterializer(opts.env);
  const handle: ChaosHandle = {
    child: first,
    children: [first],
    respawn() {
      handle.child = spawnMaterializer(opts.env);
      handle.children.push(handle.child);
    },
  };
  const counts = Object.fromEntries(Object.keys(opts.disturbances).map((k) => [k, 0]));
  const pending = () => Object.keys(opts.disturbances).filter((k) => counts[k]! < opts.disturbances[k]!.min);
  const batchesOf = (c: ChildMaterializer) => c.events.filter((e) => e.event === 'batch').length;
  const deadline = Date.now() + (opts.deadlineMs ?? 300_000);
  while (pending().length && Date.now() < deadline) {
    const child = handle.child;
    const seen = batchesOf(child);
    const moving = await waitFor('the child to apply a batch', () => batchesOf(child) > seen, 60_000, 50).catch(
      () => false,
    );
    if (child.child.exitCode !== null || child.child.signalCode !== null) {
      throw new Error(`the materializer died on its own:\n${child.stderr.slice(-30).join('\n')}`);
    }
    if (!moving) break;
    // short, so every disturbance lands while the log is still being applied (a fast child can
    // otherwise drain the whole log before the minimum count of disturbances is reached)
    await sleep(Math.random() * 300);
    const choices = pending();
    const name = choices[Math.floor(Math.random() * choices.length)]!;
    counts[name]!++;
    opts.log.push(`${name} #${counts[name]}: ${await opts.disturbances[name]!.act(handle)}`);
  }
  return { handle, counts };
}

/** SIGKILL the child and start a new one. */
export const killChild: Disturbance = async (h) => {
  h.child.child.kill('SIGKILL');
  await h.child.exited;
  h.respawn();
  return 'child SIGKILLed, new child started';
};

/** Waits until the last child has stored the whole log, then stops it (and prints the chaos log). */
export async function finishChaos(
  h: ChaosHandle,
  kafka: Kafka,
  db: { pool: pg.Pool },
  prefix: string,
  group: string,
  log: string[],
): Promise<void> {
  try {
    await waitCaughtUp(kafka, db.pool, prefix, group, 180_000);
  } finally {
    h.child.child.kill('SIGTERM');
    await h.child.exited;
    const retried = h.child.events.filter((e) => e.event === 'retry').length;
    log.push(
      `last child: ${retried} retried batch(es); all ${h.children.length} children: ${eventsOf(h, 'retry')} retries, ${eventsOf(h, 'error')} error events`,
    );
    process.stderr.write(`[chaos] ${log.join('\n[chaos] ')}\n`);
    if (h.child.stderr.length) process.stderr.write(`[chaos child stderr]\n${h.child.stderr.slice(-20).join('\n')}\n`);
  }
}

/**
 * The reference: one undisturbed in-process run over the same, complete, log into `clean`; every
 * table of `actual` must equal it (offsets compared by value, not group name).
 */
export async function expectEqualsCleanRun(
  actual: Record<string, unknown[]>,
  kafka: Kafka,
  clean: TestDb,
  prefix: string,
  items: number,
): Promise<void> {
  const cleanGroup = uniqueName('matclean');
  const ref = await startMaterializer({ pool: clean.pool, kafka, prefix, groupId: cleanGroup, refresh: false });
  await waitCaughtUp(kafka, clean.pool, prefix, cleanGroup);
  await ref.stop();
  const expected = await canonicalDump(clean.pool, cleanGroup);

  expect(actual.offsets).toEqual(expected.offsets);
  expect(actual.items?.length).toBe(items);
  for (const table of Object.keys(expected)) {
    expect({ table, rows: actual[table] }).toEqual({ table, rows: expected[table] });
  }
}
