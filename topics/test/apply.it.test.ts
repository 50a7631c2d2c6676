import { randomBytes } from 'node:crypto';
import { createKafka, loadConfig } from '@feedlog/common';
import kafkajs, { type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyTopics, readActualState } from '../src/apply.ts';
import { declareFeedlog, type FeedlogDeclarations } from '../src/declarations.ts';
import { formatApplyReport } from '../src/report.ts';

// Against the real broker (KAFKA_BROKERS from the integration global setup), on topic names with
// a prefix of their own so runs and workers never collide.
const prefix = `it-topics-${Date.now().toString(36)}${randomBytes(3).toString('hex')}-`;
let admin: Admin;
let decl: FeedlogDeclarations;

beforeAll(async () => {
  admin = createKafka(loadConfig(), { clientId: 'feedlog-topics-it' }).admin();
  await admin.connect();
  decl = declareFeedlog({ prefix });
});

afterAll(async () => {
  if (!admin) return;
  const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
  await admin.disconnect();
});

describe('applyTopics on a real broker', () => {
  it('a dry run on an empty prefix plans every topic and creates nothing', async () => {
    const r = await applyTopics({ admin, declarations: decl, dryRun: true });
    expect(r.actions.filter((a) => a.kind === 'create')).toHaveLength(decl.topics.length);
    expect(r.applied).toEqual([]);
    expect((await admin.listTopics()).filter((t) => t.startsWith(prefix))).toEqual([]);
    expect(formatApplyReport(r)).toMatch(/dry run/);
  });

  it('creates every declared topic with its partitions and configs, capped to the brokers', async () => {
    const r = await applyTopics({ admin, declarations: decl });
    expect(r.applied.filter((a) => a.kind === 'create')).toHaveLength(decl.topics.length);
    const state = await readActualState(admin, decl);
    const rf = Math.min(3, state.brokers);
    for (const t of decl.topics) {
      const have = state.topics[t.name];
      expect(have, t.name).toBeDefined();
      expect(have!.partitions, t.name).toBe(t.partitions);
      expect(have!.replicationFactor, t.name).toBe(rf);
      expect(have!.configs['cleanup.policy']?.value, t.name).toBe(t.cleanupPolicy);
    }
    expect(state.topics[`${prefix}raw-headlines`]!.configs['retention.ms']?.value).toBe('-1');
    expect(state.topics[`${prefix}feedlog.cluster.changelog`]!.configs['cleanup.policy']?.value).toBe('compact');
    if (state.brokers < 3) {
      expect(r.caps).toHaveLength(decl.topics.length);
      expect(formatApplyReport(r)).toMatch(/capped to the broker count: replication factor 3 → /);
    }
  });

  it('a second run changes nothing', async () => {
    const r = await applyTopics({ admin, declarations: decl });
    expect(r.actions).toEqual([]);
    expect(r.drift).toEqual([]);
    expect(r.noChanges).toBe(true);
    expect(formatApplyReport(r)).toMatch(/no changes/);
  });

  it('applies a partition increase, and never shrinks', async () => {
    const raw = `${prefix}raw-headlines`;
    const grown: FeedlogDeclarations = {
      ...decl,
      topics: decl.topics.map((t) => (t.name === raw ? { ...t, partitions: t.partitions + 2 } : t)),
    };
    const r = await applyTopics({ admin, declarations: grown });
    expect(r.applied).toEqual([{ kind: 'add-partitions', topic: raw, from: 6, to: 8 }]);
    const meta = await admin.fetchTopicMetadata({ topics: [raw] });
    expect(meta.topics[0]!.partitions).toHaveLength(8);
    // The original declaration now asks for fewer: reported, not applied.
    const back = await applyTopics({ admin, declarations: decl });
    expect(back.actions).toEqual([]);
    expect(back.drift).toEqual([expect.objectContaining({ topic: raw, kind: 'partitions', fix: 'report only' })]);
    expect((await admin.fetchTopicMetadata({ topics: [raw] })).topics[0]!.partitions).toHaveLength(8);
  });

  it('fixes a config changed behind its back, keeping an undeclared override', async () => {
    const topic = `${prefix}classified`;
    const declared = decl.topics.find((t) => t.name === topic)!;
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: kafkajs.ConfigResourceTypes.TOPIC,
          name: topic,
          configEntries: [
            { name: 'cleanup.policy', value: 'delete' },
            { name: 'retention.ms', value: '60000' },
            { name: 'min.insync.replicas', value: '1' },
            { name: 'max.message.bytes', value: '2000000' },
          ],
        },
      ],
    });
    const dry = await applyTopics({ admin, declarations: decl, dryRun: true });
    expect(dry.drift).toContainEqual(
      expect.objectContaining({ topic, kind: 'config', detail: `retention.ms: 60000 → ${declared.retentionMs}` }),
    );
    expect(dry.drift).toContainEqual(expect.objectContaining({ topic, kind: 'undeclared-override' }));

    const r = await applyTopics({ admin, declarations: decl });
    expect(r.applied.map((a) => a.kind)).toEqual(['alter-config']);
    const state = await readActualState(admin, decl);
    expect(state.topics[topic]!.configs['retention.ms']?.value).toBe(String(declared.retentionMs));
    expect(state.topics[topic]!.configs['max.message.bytes']).toEqual({ value: '2000000', override: true });
    const again = await applyTopics({ admin, declarations: decl });
    expect(again.actions).toEqual([]);
  });

  it('reports an undeclared topic of its own, deleting it only with force', async () => {
    const extra = `${prefix}retired.dlq`;
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: extra, numPartitions: 1, replicationFactor: 1 }],
    });
    const r = await applyTopics({ admin, declarations: decl });
    expect(r.actions).toEqual([]);
    expect(r.drift).toContainEqual(
      expect.objectContaining({ topic: extra, kind: 'undeclared-topic', fix: 'report only' }),
    );
    expect(await admin.listTopics()).toContain(extra);

    const forced = await applyTopics({ admin, declarations: decl, force: true });
    expect(forced.applied).toEqual([{ kind: 'delete', topic: extra }]);
    await expect
      .poll(async () => (await admin.listTopics()).includes(extra), { timeout: 15_000, interval: 250 })
      .toBe(false);
  });
});
