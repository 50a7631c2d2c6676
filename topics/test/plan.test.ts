import { describe, expect, it } from 'vitest';
import { declaredConfig, declareFeedlog, type TopicDeclaration } from '../src/declarations.ts';
import { type ActualState, type ActualTopic, effectiveReplication, planTopics } from '../src/plan.ts';

const d = declareFeedlog({ prefix: 'p-' });
const raw = d.topics.find((t) => t.name === 'p-raw-headlines')!;

/** The cluster state right after a faithful apply of `topics` on `brokers` brokers. */
function applied(topics: TopicDeclaration[], brokers: number): ActualState {
  const out: Record<string, ActualTopic> = {};
  for (const t of topics) {
    const rep = effectiveReplication(t, brokers);
    const configs: ActualTopic['configs'] = { 'segment.bytes': { value: '1073741824', override: false } };
    for (const [k, v] of Object.entries(declaredConfig(t, rep.minInsyncReplicas)))
      configs[k] = { value: v, override: true };
    out[t.name] = { partitions: t.partitions, replicationFactor: rep.replicationFactor, configs };
  }
  return { brokers, topics: out };
}

describe('effectiveReplication', () => {
  it.each([
    [1, 1, 1],
    [2, 2, 1],
    [3, 3, 2],
    [5, 3, 2],
  ])('%i brokers → RF %i, min ISR %i (declared RF 3, min ISR 2)', (brokers, rf, isr) => {
    const r = effectiveReplication(raw, brokers);
    expect([r.replicationFactor, r.minInsyncReplicas]).toEqual([rf, isr]);
  });
});

describe('planTopics', () => {
  it('creates every declared topic on an empty cluster, capped to the brokers', () => {
    const plan = planTopics(d.topics, { brokers: 1, topics: {} }, { owns: d.owns });
    expect(plan.actions.map((a) => a.kind)).toEqual(d.topics.map(() => 'create'));
    const create = plan.actions.find((a) => a.topic === 'p-raw-headlines');
    expect(create).toMatchObject({ kind: 'create', partitions: 6, replicationFactor: 1 });
    expect(create && create.kind === 'create' && create.config).toMatchObject({
      'retention.ms': '-1',
      'min.insync.replicas': '1',
      'cleanup.policy': 'delete',
    });
    expect(plan.caps).toHaveLength(d.topics.length);
    expect(plan.drift.every((x) => x.kind === 'missing')).toBe(true);
  });

  it('has nothing to do on a cluster that matches, and reports no cap with 3 brokers', () => {
    for (const brokers of [1, 3]) {
      const plan = planTopics(d.topics, applied(d.topics, brokers), { owns: d.owns });
      expect(plan.actions).toEqual([]);
      expect(plan.drift).toEqual([]);
      expect(plan.caps.length === 0).toBe(brokers === 3);
    }
  });

  it('grows partitions but never shrinks them', () => {
    const state = applied(d.topics, 1);
    state.topics['p-raw-headlines']!.partitions = 3;
    state.topics['p-classified']!.partitions = 12;
    const plan = planTopics(d.topics, state, { owns: d.owns });
    expect(plan.actions).toEqual([{ kind: 'add-partitions', topic: 'p-raw-headlines', from: 3, to: 6 }]);
    const shrink = plan.drift.find((x) => x.topic === 'p-classified');
    expect(shrink).toMatchObject({ kind: 'partitions', fix: 'report only' });
  });

  it('alters configs that differ, sending declared and kept undeclared overrides together', () => {
    const state = applied(d.topics, 1);
    const t = state.topics['p-embedded']!;
    t.configs['retention.ms'] = { value: '1000', override: true };
    t.configs['max.message.bytes'] = { value: '2000000', override: true };
    const plan = planTopics(d.topics, state, { owns: d.owns });
    expect(plan.actions).toHaveLength(1);
    const a = plan.actions[0]!;
    expect(a.kind).toBe('alter-config');
    if (a.kind !== 'alter-config') return;
    expect(a.changes).toEqual([{ name: 'retention.ms', from: '1000', to: String(14 * 24 * 3600 * 1000) }]);
    expect(a.entries['max.message.bytes']).toBe('2000000');
    expect(a.entries['retention.ms']).toBe(String(14 * 24 * 3600 * 1000));
    expect(plan.drift.map((x) => x.kind).sort()).toEqual(['config', 'undeclared-override']);
  });

  it('reports a replication factor it cannot change', () => {
    const state = applied(d.topics, 3);
    state.topics['p-indexed']!.replicationFactor = 1;
    const plan = planTopics(d.topics, state, { owns: d.owns });
    expect(plan.actions).toEqual([]);
    expect(plan.drift).toEqual([
      expect.objectContaining({ topic: 'p-indexed', kind: 'replication', fix: 'report only' }),
    ]);
  });

  it('reports undeclared owned topics, deletes them only with force, ignores foreign ones', () => {
    const state = applied(d.topics, 1);
    const extra: ActualTopic = { partitions: 1, replicationFactor: 1, configs: {} };
    state.topics['p-old.dlq'] = extra;
    state.topics['someone-elses'] = extra;
    const plain = planTopics(d.topics, state, { owns: d.owns });
    expect(plain.actions).toEqual([]);
    expect(plain.drift).toEqual([
      expect.objectContaining({ topic: 'p-old.dlq', kind: 'undeclared-topic', fix: 'report only' }),
    ]);
    const forced = planTopics(d.topics, state, { owns: d.owns, force: true });
    expect(forced.actions).toEqual([{ kind: 'delete', topic: 'p-old.dlq' }]);
  });

  it('refuses a declaration set with a duplicate name', () => {
    expect(() => planTopics([raw, raw], { brokers: 1, topics: {} })).toThrow(/declared twice/);
  });
});
