import { setTimeout as sleep } from 'node:timers/promises';
import { testKafka, waitFor } from '@feedlog/test';
import type { Kafka } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  countByKey,
  createTopics,
  deleteTopics,
  produceRange,
  readCommitted,
  spawnStage,
  type Topics,
} from './helpers.ts';

async function committedTotal(kafka: Kafka, t: Topics): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const [c] = await admin.fetchOffsets({ groupId: `feedlog.${t.stage}.g1`, topics: [t.input] });
  await admin.disconnect();
  return (c?.partitions ?? []).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
}

async function waitAllCommitted(kafka: Kafka, t: Topics, timeoutMs = 90_000): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(t.input);
  await admin.disconnect();
  const total = ends.reduce((s, e) => s + Number(e.offset), 0);
  await waitFor('the whole input committed', async () => (await committedTotal(kafka, t)) === total, timeoutMs, 250);
}

describe('stage lifecycle on the real broker', () => {
  const kafka = testKafka('runtime-lifecycle');
  const created: Topics[] = [];
  afterAll(async () => {
    for (const t of created) await deleteTopics(kafka, t);
  });

  it('SIGTERM finishes or aborts the open transaction and leaves no duplicate', async () => {
    const t = await createTopics(kafka, 'sigterm', 2);
    created.push(t);
    const N = 6_000;
    await produceRange(kafka, t.input, 0, N);
    const env = { STAGE_SLOW_MS: '1', STAGE_MAX_RECORDS: '300' };
    const a = spawnStage(t, env);
    await waitFor('three committed batches', () => a.events.filter((e) => e.event === 'batch').length >= 3, 60_000);
    await sleep(Math.random() * 300);
    const t0 = Date.now();
    a.child.kill('SIGTERM');
    const exit = await a.exited;
    const stopMs = Date.now() - t0;
    expect(exit.code).toBe(0);
    expect(a.events.some((e) => e.event === 'lifecycle' && e.status === 'stopped')).toBe(true);
    expect(stopMs).toBeLessThan(8_000);

    // what the group committed is exactly what reached the output: no output without its offset, no offset without its output
    const committed = await committedTotal(kafka, t);
    expect(committed).toBeGreaterThan(0);
    expect(committed).toBeLessThan(N);
    const partial = await readCommitted(t.output, committed, { quietMs: 1_000, timeoutMs: 20_000 });
    expect(partial.length).toBe(committed);
    expect(countByKey(partial).size).toBe(committed);

    const b = spawnStage(t, { STAGE_MAX_RECORDS: '300' });
    await waitAllCommitted(kafka, t);
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
    const out = await readCommitted(t.output, N, { quietMs: 1_500 });
    expect(out.length).toBe(N);
    expect(countByKey(out).size).toBe(N);
    console.log(JSON.stringify({ sigterm: { stopMs, committedAtStop: committed, total: out.length } }));
  }, 180_000);

  it('two instances rebalancing, one frozen past its session (a zombie) and resumed: fenced, no duplicate', async () => {
    const t = await createTopics(kafka, 'zombie', 4);
    created.push(t);
    const N = 20_000;
    await produceRange(kafka, t.input, 0, N / 2);
    const env = { STAGE_SLOW_MS: '1', STAGE_MAX_RECORDS: '200', STAGE_SESSION_TIMEOUT_MS: '6000' };
    const a = spawnStage(t, env);
    await a.waitEvent((e) => e.event === 'batch');
    const b = spawnStage(t, env);
    // B joins: the group rebalances and both process
    await b.waitEvent((e) => e.event === 'batch', 60_000);
    await waitFor('A to process after the rebalance', () => {
      const i = a.events.findLastIndex((e) => e.event === 'assignment');
      return a.events.slice(i).some((e) => e.event === 'batch');
    });
    const more = produceRange(kafka, t.input, N / 2, N);
    // freeze A mid-work: its session expires, B takes all partitions and fences A's producers
    a.child.kill('SIGSTOP');
    const bOwned = new Set<number>();
    await waitFor(
      'B to own every partition',
      () => {
        bOwned.clear();
        for (const e of b.events) {
          if (e.event !== 'assignment') continue;
          for (const p of e.revoked as number[]) bOwned.delete(p);
          for (const p of e.assigned as number[]) bOwned.add(p);
        }
        return bOwned.size === 4;
      },
      60_000,
      100,
    );
    await sleep(1_000);
    // the zombie wakes up with its batch still in hand and tries to commit it
    a.child.kill('SIGCONT');
    await more;
    await waitAllCommitted(kafka, t, 120_000);
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    await Promise.all([a.exited, b.exited]);

    const out = await readCommitted(t.output, N, { quietMs: 1_500 });
    const counts = countByKey(out);
    const aErrors = a.events.filter((e) => e.event === 'error').map((e) => String(e.error));
    console.log(
      JSON.stringify({
        zombie: {
          outputs: out.length,
          distinct: counts.size,
          aBatches: a.events.filter((e) => e.event === 'batch').length,
          bBatches: b.events.filter((e) => e.event === 'batch').length,
          aErrorsAfterResume: aErrors.slice(0, 3),
        },
      }),
    );
    expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
    expect(counts.size).toBe(N);
    expect(out.length).toBe(N);
    // the zombie did try to commit what it held, and the broker refused it
    expect(aErrors.some((e) => /old epoch|fenced/i.test(e))).toBe(true);
  }, 240_000);
});
