import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { testKafka, uniqueName, waitFor } from '@feedlog/test';
import type { Admin } from '@platformatic/kafka';
import type { Consumer, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyReset, createAdmin, EXIT, GroupActiveError, planReset, ResetUsageError } from '../src/index.ts';
import { committedLines, HOUR, produceTimed, seedGroup, toolReset } from './helpers.ts';

const run = promisify(execFile);
const feedlog = resolve(import.meta.dirname, '../../../bin/feedlog');

/** The real CLI in a child process: exit code, stdout, stderr. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [feedlog, 'reset-offsets', ...args], { env: process.env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

describe('reset-offsets refuses an active group and exits with distinct codes', () => {
  let kafka: Kafka;
  let admin: Admin;
  const T = uniqueName('reset.refuse');
  const clientId = `refuse-client-${Date.now().toString(36)}`;
  let consumer: Consumer | undefined;

  beforeAll(async () => {
    kafka = testKafka(clientId);
    const k = kafka.admin();
    await k.connect();
    await k.createTopics({ topics: [{ topic: T, numPartitions: 6 }], waitForLeaders: true });
    await k.disconnect();
    await produceTimed(kafka, T, [5, 5, 5, 5, 5, 5], Date.now() - 10 * HOUR);
    admin = createAdmin();
  });
  afterAll(async () => {
    await consumer?.disconnect();
    const k = kafka.admin();
    await k.connect();
    await k.deleteTopics({ topics: [T] }).catch(() => {});
    await k.disconnect();
    await admin?.close();
  });

  /** A real consumer in the group, waited for until it has joined. */
  async function joinGroup(groupId: string): Promise<{ memberId: string; consumer: Consumer }> {
    const c = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
    let memberId = '';
    c.on(c.events.GROUP_JOIN, (e) => {
      memberId = e.payload.memberId;
    });
    await c.connect();
    await c.subscribe({ topic: T });
    await c.run({ autoCommit: false, eachMessage: async () => {} });
    await waitFor('the consumer to join', () => memberId || undefined, 60_000);
    return { memberId, consumer: c };
  }

  it('CLI: done (0) with a JSON plan, the CSV export, then --from-file --execute; bad input (2); failed (1)', async () => {
    const g = uniqueName('reset.cli');
    await seedGroup(admin, g, { [T]: [5, 5, 5, 5, 5, 5] });
    const dry = await cli(['--group', g, '--topic', `${T}:0,1`, '--shift-by', '-2', '--json']);
    expect(dry.code, dry.stderr).toBe(EXIT.done);
    const plan = JSON.parse(dry.stdout);
    expect(plan).toMatchObject({ group: g, store: 'kafka', executed: false, reread: '4', skipped: '0' });
    expect(plan.partitions.map((p: { newOffset: string }) => p.newOffset)).toEqual(['3', '3']);
    expect(await committedLines(admin, g)).toContain(`${T}:0=5`); // dry run changed nothing

    const dir = mkdtempSync(join(tmpdir(), 'feedlog-reset-cli-'));
    const file = join(dir, 'plan.csv');
    const exp = await cli(['--group', g, '--topic', T, '--to-earliest', '--export', file]);
    expect(exp.code, exp.stderr).toBe(EXIT.done);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(6);
    const exec = await cli(['--group', g, '--from-file', file, '--execute']);
    expect(exec.code, exec.stderr).toBe(EXIT.done);
    expect(exec.stdout).toMatch(/applied: 6 partition\(s\)/);
    expect(await committedLines(admin, g)).toEqual([0, 1, 2, 3, 4, 5].map((p) => `${T}:${p}=0`));

    const bad = await Promise.all([
      cli(['--group', g, '--topic', 'no.such.topic.anywhere', '--to-latest']),
      cli(['--group', g, '--topic', `${T}:9`, '--to-latest']),
      cli(['--group', g, '--topic', T, '--by-duration', 'six hours']),
      cli(['--group', g, '--topic', T, '--to-latest', '--to-earliest']),
      cli(['--group', uniqueName('reset.nobody'), '--all-topics', '--to-latest']),
      cli(['--group', g, '--topic', T, '--to-latest', '--no-such-option']),
    ]);
    expect(bad.map((b) => b.code)).toEqual(Array(6).fill(EXIT.usage));
    expect(bad[0]!.stderr).toMatch(/unknown topic\(s\): no\.such\.topic\.anywhere/);
    expect(bad[1]!.stderr).toMatch(/has no partition 9/);
    expect(bad[2]!.stderr).toMatch(/bad duration 'six hours'/);
    expect(bad[3]!.stderr).toMatch(/conflicting modes/);
    expect(bad[4]!.stderr).toMatch(/unknown group/);

    const failed = await cli([
      '--group',
      g,
      '--topic',
      T,
      '--to-latest',
      '--offsets-in',
      'postgres',
      '--database-url',
      'postgres://feedlog@127.0.0.1:1/feedlog',
    ]);
    expect(failed.code).toBe(EXIT.failed);
    expect(failed.stderr).toMatch(/failed: .*(ECONNREFUSED|connect)/);
  });

  it('refuses while the group has members, naming them (as Kafka refuses), and changes nothing', async () => {
    const g = uniqueName('reset.active');
    await seedGroup(admin, g, { [T]: [2, 2, 2, 2, 2, 2] });
    const before = await committedLines(admin, g);
    const member = await joinGroup(g);
    consumer = member.consumer;
    const [mine, kafkas] = await Promise.all([
      cli(['--group', g, '--topic', T, '--to-earliest', '--execute', '--json']),
      toolReset(g, ['--topic', T, '--to-earliest', '--execute']),
    ]);
    expect(mine.code).toBe(EXIT.refused);
    expect(mine.stderr).toContain(member.memberId);
    expect(mine.stderr).toContain(`client ${clientId}`);
    expect(mine.stderr).toMatch(/host \/?127\.0\.0\.1/);
    const json = JSON.parse(mine.stdout);
    expect(json).toMatchObject({ error: 'refused', members: [{ memberId: member.memberId, clientId }] });
    // Kafka's own tool refuses the same group
    expect(kafkas.error).toMatch(/can only be reset if the group .* is inactive/);
    expect(kafkas.rows).toEqual([]);
    await consumer.disconnect();
    consumer = undefined;
    expect(await committedLines(admin, g)).toEqual(before);
  });

  it('re-checks just before applying: a consumer that joined after the plan refuses the apply', async () => {
    const g = uniqueName('reset.recheck');
    await seedGroup(admin, g, { [T]: [4, 4, 4, 4, 4, 4] });
    const before = await committedLines(admin, g);
    const plan = await planReset({
      admin,
      groupId: g,
      scope: { kind: 'topics', topics: [{ topic: T }] },
      mode: { kind: 'to-earliest' },
    });
    expect(plan.members).toEqual([]);
    const member = await joinGroup(g);
    consumer = member.consumer;
    const err = await applyReset(plan, { admin }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GroupActiveError);
    expect((err as GroupActiveError).members.map((m) => m.memberId)).toEqual([member.memberId]);
    expect((err as GroupActiveError).message).toContain(clientId);
    await consumer.disconnect();
    consumer = undefined;
    expect(await committedLines(admin, g)).toEqual(before);
  });

  it('a new group (replay): refused as unknown unless allowed, then created at the planned offsets', async () => {
    const g = uniqueName('reset.new');
    const opts = {
      admin,
      groupId: g,
      scope: { kind: 'topics' as const, topics: [{ topic: T, partitions: [0, 1] }] },
      mode: { kind: 'shift-by' as const, by: 1n },
    };
    await expect(planReset(opts)).rejects.toThrow(ResetUsageError);
    await expect(planReset({ ...opts, allowNewGroup: true })).rejects.toThrow(/no committed offset/);
    const plan = await planReset({ ...opts, mode: { kind: 'to-offset', offset: 3n }, allowNewGroup: true });
    expect(plan.partitions.map((p) => [p.current, p.target, p.reprocess])).toEqual([
      [null, 3n, null],
      [null, 3n, null],
    ]);
    await applyReset(plan, { admin });
    expect(await committedLines(admin, g)).toEqual([`${T}:0=3`, `${T}:1=3`]);
  });
});
