import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { testKafka, uniqueName } from '@feedlog/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LagReport } from '../src/types.ts';
import { createTopic, describeGroup, produce } from './helpers.ts';

const run = promisify(execFile);
const bin = resolve(import.meta.dirname, '../../../bin/feedlog');

/** `feedlog lag` through the real CLI entry point, against Kafka's own tool. */
describe('feedlog lag', () => {
  const kafka = testKafka('lag-cli-it');
  const admin = kafka.admin();
  const topic = uniqueName('lagcli');
  const group = uniqueName('lagcli-g');

  beforeAll(async () => {
    await admin.connect();
    await createTopic(admin, topic, 4);
    await produce(kafka, topic, 80);
    await admin.setOffsets({
      groupId: group,
      topic,
      partitions: [0, 1, 2, 3].map((partition) => ({ partition, offset: '2' })),
    });
  });
  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('--json prints the report for --group, equal to kafka-consumer-groups, with a status after two samples', async () => {
    const { stdout } = await run('node', [bin, 'lag', '--group', group, '--json', '--interval', '200'], {
      env: process.env,
    });
    const report = JSON.parse(stdout) as LagReport;
    expect(report.groups.map((g) => g.group)).toEqual([group]);
    const g = report.groups[0]!;
    const kafkaRows = await describeGroup(group);
    expect(g.partitions.map((p) => [p.partition, p.committedOffset, p.logEndOffset, p.lag])).toEqual(
      kafkaRows.map((r) => [r.partition, r.current, r.logEnd, r.lag]),
    );
    expect(g.lag).toBe(80 - 8);
    expect(g.status).toBe('STOP');
  });

  it('prints a table by default and refuses a bad --interval with a clear message', async () => {
    const { stdout } = await run('node', [bin, 'lag', '--group', `${group.slice(0, -3)}*`, '--interval', '150'], {
      env: process.env,
    });
    expect(stdout).toContain(group);
    expect(stdout).toMatch(/group\s*│\s*state\s*│\s*status/);
    const bad = await run('node', [bin, 'lag', '--interval', '5']).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 1 });
    expect((bad as { stderr: string }).stderr).toContain("option '--interval <ms>' argument '5' is invalid");
  });
});
