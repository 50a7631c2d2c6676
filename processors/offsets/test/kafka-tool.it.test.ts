import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testKafka, uniqueName } from '@feedlog/test';
import type { Admin } from '@platformatic/kafka';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetRequest } from '../src/args.ts';
import { applyReset, createAdmin, formatOffsetsCsv, planReset, type ResetPlan } from '../src/index.ts';
import { committedLines, HOUR, lines, type Offsets, produceTimed, seedGroup, toolReset } from './helpers.ts';

/**
 * feedlog's reset against Kafka's own `kafka-consumer-groups --reset-offsets` (3.9.2, same run,
 * same broker): for every mode and each scope, the plan equals the tool's --dry-run table, and the
 * offsets after feedlog's apply equal those after the tool's --execute on an identical group.
 */
describe('reset-offsets equals kafka-consumer-groups --reset-offsets', () => {
  let kafka: Kafka;
  let admin: Admin;
  const T = uniqueName('reset.t');
  const U = uniqueName('reset.u');
  const dir = mkdtempSync(join(tmpdir(), 'feedlog-reset-'));
  // Record i is stamped base + i hours; base sits half an hour off the hour so that
  // --by-duration (relative to each tool's own "now") falls between two records, never on one.
  const base = Date.now() - 48 * HOUR - HOUR / 2;
  const tCounts = [12, 14, 16, 18, 20, 22];
  const uCounts = [10, 10, 10];
  // G1: one topic, p4 never committed. G2: two topics.
  const g1: Offsets = { [T]: [10, 5, 0, 15, -1, 6] };
  const g2: Offsets = { [T]: [10, 5, 0, 15], [U]: [3, 7, 10] };

  beforeAll(async () => {
    kafka = testKafka('reset-offsets-test');
    const k = kafka.admin();
    await k.connect();
    await k.createTopics({
      topics: [
        { topic: T, numPartitions: 6 },
        { topic: U, numPartitions: 3 },
      ],
      waitForLeaders: true,
    });
    await k.disconnect();
    await produceTimed(kafka, T, tCounts, base);
    await produceTimed(kafka, U, uCounts, base);
    admin = createAdmin();
    // A non-zero log start: records 0–3 of T[5] deleted.
    await admin.deleteRecords({ topics: [{ name: T, partitions: [{ partition: 5, offset: 4n }] }] });
  });
  afterAll(async () => {
    const k = kafka.admin();
    await k.connect();
    await k.deleteTopics({ topics: [T, U] }).catch(() => {});
    await k.disconnect();
    await admin?.close();
  });

  /** Kafka's datetime format (UTC, no zone): yyyy-MM-ddTHH:mm:ss.SSS */
  const kafkaTime = (ms: number) => new Date(ms).toISOString().slice(0, -1);
  const plusOneHour = (ms: number) => `${new Date(ms + HOUR).toISOString().slice(0, -1)}+01:00`;

  const scopes = {
    'partition list': { seed: g1, args: ['--topic', `${T}:0,3,5`] },
    'one topic': { seed: g1, args: ['--topic', T] },
    'all topics': { seed: g1, args: ['--all-topics'] },
    'two-topic group': { seed: g2, args: ['--all-topics'] },
  } as const;
  type ScopeName = keyof typeof scopes;

  // A plan file as Kafka's --export writes it; offsets out of the log are clamped on reading.
  const planFile = join(dir, 'plan.csv');
  const clampFile = join(dir, 'clamp.csv');
  writeFileSync(planFile, `${T},0,3\n${T},3,9\n${T},5,7\n${U},1,2\n`);
  writeFileSync(clampFile, `${T},2,999\n${T},5,1\n${U},0,4\n`);

  const modes: [string, string[]][] = [
    ['--to-earliest', ['--to-earliest']],
    ['--to-latest', ['--to-latest']],
    ['--to-current', ['--to-current']],
    ['--to-offset 7', ['--to-offset', '7']],
    ['--shift-by -3', ['--shift-by', '-3']],
    ['--to-datetime (between records)', ['--to-datetime', kafkaTime(base + 5.5 * HOUR)]],
    ['--by-duration PT40H', ['--by-duration', 'PT40H']],
    ['--from-file', ['--from-file', planFile]],
  ];
  const cases: [ScopeName, string, string[]][] = [];
  for (const s of Object.keys(scopes) as ScopeName[]) for (const [name, args] of modes) cases.push([s, name, args]);
  // Clamping and edge cases
  cases.push(
    ['one topic', '--to-offset 1000 (beyond every log end)', ['--to-offset', '1000']],
    ['one topic', '--to-offset 2 (below the log start of a partition with deleted records)', ['--to-offset', '2']],
    ['two-topic group', '--shift-by -8 (below the log start)', ['--shift-by', '-8']],
    ['partition list', '--shift-by -8 (below a non-zero log start)', ['--shift-by', '-8']],
    ['two-topic group', '--shift-by +12 (beyond the log end)', ['--shift-by', '12']],
    ['one topic', '--to-datetime before the deleted records', ['--to-datetime', kafkaTime(base + 2.5 * HOUR)]],
    ['two-topic group', '--to-datetime after the last record', ['--to-datetime', kafkaTime(base + 100 * HOUR)]],
    ['one topic', '--to-datetime with a +01:00 zone, before all', ['--to-datetime', plusOneHour(base - 10 * HOUR)]],
    ['two-topic group', '--by-duration P3D (before all)', ['--by-duration', 'P3D']],
    ['two-topic group', '--by-duration PT1H (after the last record)', ['--by-duration', 'PT1H']],
    ['two-topic group', '--from-file out of the log (clamped)', ['--from-file', clampFile]],
  );

  /** The CLI's own parsing of the same arguments Kafka's tool gets (the flags are spelt the same). */
  function feedlogRequest(groupId: string, args: string[]) {
    const o: Record<string, unknown> = { group: groupId };
    for (let i = 0; i < args.length; i++) {
      const flag = args[i]!.replace(/^--/, '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
      const next = args[i + 1];
      if (flag === 'topic') o.topic = [...((o.topic as string[]) ?? []), args[++i]!];
      else if (next !== undefined && !next.startsWith('--')) o[flag] = args[++i];
      else o[flag] = true;
    }
    return resetRequest(o);
  }

  const planLines = (p: ResetPlan) => lines(p.partitions.map((r) => [`${r.topic}\u0000${r.partition}`, r.target]));

  it.each(cases)('%s, %s', async (scopeName, _name, modeArgs) => {
    const scope = scopes[scopeName];
    const args = [...scope.args, ...modeArgs];
    const mine = uniqueName('reset.feedlog');
    const theirs = uniqueName('reset.kafka');
    await seedGroup(admin, mine, scope.seed);
    await seedGroup(admin, theirs, scope.seed);
    const before = await committedLines(admin, mine);
    expect(await committedLines(admin, theirs)).toEqual(before);

    const req = feedlogRequest(mine, args);
    const [dry, planned] = await Promise.all([
      toolReset(mine, [...args, '--dry-run']),
      planReset({ admin, groupId: mine, ...(req.scope ? { scope: req.scope } : {}), mode: req.mode }).then(
        (p) => p,
        (e: Error) => e,
      ),
    ]);
    if (planned instanceof Error) {
      // feedlog refuses exactly when Kafka's tool does (shift-by without a committed offset)
      expect(dry.rows, `feedlog failed (${planned.message}) but the tool planned`).toEqual([]);
      expect(dry.error).toMatch(/Cannot shift offset/);
      expect(planned.message).toMatch(/no committed offset/);
      const exec = await toolReset(theirs, [...args, '--execute']);
      expect(exec.rows).toEqual([]);
      expect(await committedLines(admin, theirs)).toEqual(before);
      expect(await committedLines(admin, mine)).toEqual(before);
      return;
    }
    expect(dry.error, dry.stdout).toBeNull();
    expect(planLines(planned)).toEqual(dry.rows);
    expect(planned.partitions.length).toBeGreaterThan(0);

    const [applied, exec] = await Promise.all([
      applyReset(planned, { admin }),
      toolReset(theirs, [...args, '--execute']),
    ]);
    expect(exec.error, exec.stdout).toBeNull();
    expect(applied.applied).toBe(planned.partitions.length);
    const after = await committedLines(admin, mine);
    expect(after).toEqual(await committedLines(admin, theirs));
    // the reset did something observable where the plan said it would
    for (const p of planned.partitions) expect(after).toContain(`${p.topic}:${p.partition}=${p.target}`);
  });

  it('the plan clamps and reports re-read/skipped records and what Kafka exports reads back', async () => {
    const g = uniqueName('reset.feedlog');
    await seedGroup(admin, g, g1);
    const shift = await planReset({
      admin,
      groupId: g,
      scope: { kind: 'topics', topics: [{ topic: T, partitions: [1, 5] }] },
      mode: { kind: 'shift-by', by: -8n },
    });
    const [p1, p5] = shift.partitions;
    expect(p1).toMatchObject({ current: 5n, target: 0n, clamped: true, reprocess: 5n, logStart: 0n, logEnd: 14n });
    expect(p5).toMatchObject({ current: 6n, target: 4n, clamped: true, reprocess: 2n, logStart: 4n, logEnd: 22n });
    // Kafka's --export of a plan, read by feedlog; feedlog's export, read by Kafka (the --from-file cases above)
    const exported = await toolReset(g, ['--topic', T, '--to-offset', '8', '--dry-run', '--export']);
    const csv = exported.stdout.trim();
    expect(csv.split('\n')).toHaveLength(6);
    const fromKafka = await planReset({
      admin,
      groupId: g,
      mode: feedlogRequest(g, ['--from-file', writeTmp('kafka-export.csv', csv)]).mode,
    });
    const ours = await planReset({
      admin,
      groupId: g,
      scope: { kind: 'topics', topics: [{ topic: T }] },
      mode: { kind: 'to-offset', offset: 8n },
    });
    expect(planLines(fromKafka)).toEqual(planLines(ours));
    // line for line (Kafka's order is a HashMap's), quoting included (jackson quotes values over 24 characters)
    expect(formatOffsetsCsv(ours.partitions).trim().split('\n').sort()).toEqual(csv.split('\n').sort());
  });

  function writeTmp(name: string, text: string): string {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  }
});
