import { describe, expect, it } from 'vitest';
import { declaredConfig, declareFeedlog, stageNames } from '../src/declarations.ts';

describe('topic graph', () => {
  for (const prefix of ['', 'it-x1-']) {
    const { topics, stages, owns } = declareFeedlog({ prefix });
    const byName = new Map(topics.map((t) => [t.name, t]));

    it(`names are unique and carry the prefix ${JSON.stringify(prefix)}`, () => {
      expect(byName.size).toBe(topics.length);
      for (const t of topics) expect(t.name.startsWith(prefix)).toBe(true);
      for (const t of topics) expect(owns(t.name) || !prefix).toBe(true);
    });

    it('every consumed topic is declared and has exactly one producing stage, the one it names', () => {
      const consumed = new Set(stages.flatMap((s) => s.consumes));
      expect(consumed.size).toBeGreaterThan(0);
      for (const topic of consumed) {
        const producers = stages.filter((s) => s.produces.includes(topic)).map((s) => s.name);
        expect(producers, topic).toHaveLength(1);
        expect(byName.get(topic)?.producer, topic).toBe(producers[0]);
      }
    });

    it('every produced topic is declared with that producer; consumers agree both ways', () => {
      for (const s of stages) {
        for (const topic of s.produces) expect(byName.get(topic)?.producer, `${s.name} → ${topic}`).toBe(s.name);
      }
      for (const t of topics) {
        const consumers = stages.filter((s) => s.consumes.includes(t.name)).map((s) => s.name);
        expect(t.consumers.slice().sort(), t.name).toEqual(consumers.sort());
      }
    });

    it("every consuming stage has a DLQ topic carrying DeadLetter, and each topic names its consumers' DLQs", () => {
      for (const s of stages.filter((x) => x.consumes.length > 0)) {
        expect(s.deadLetterTopic, s.name).toBe(`${prefix}${s.name}.dlq`);
        const dlq = byName.get(s.deadLetterTopic!);
        expect(dlq, s.deadLetterTopic!).toBeDefined();
        expect(dlq!.value?.record).toBe('DeadLetter');
        expect(dlq!.producer).toBe(s.name);
      }
      for (const t of topics) {
        for (const c of t.consumers) expect(t.deadLetter[c], `${t.name} consumer ${c}`).toBe(`${prefix}${c}.dlq`);
      }
    });

    it('every stage is known, and every stage but ingest consumes something', () => {
      expect(stages.map((s) => s.name).sort()).toEqual([...stageNames].sort());
      for (const s of stages) expect(s.consumes.length > 0 || s.name === 'ingest', s.name).toBe(true);
    });

    it('subjects follow TopicNameStrategy', () => {
      for (const t of topics) if (t.value) expect(t.value.subject).toBe(`${t.name}-value`);
    });

    it('raw-headlines keeps everything; the cluster changelog is compacted', () => {
      const raw = byName.get(`${prefix}raw-headlines`)!;
      expect(declaredConfig(raw)['retention.ms']).toBe('-1');
      expect(raw.cleanupPolicy).toBe('delete');
      const changelog = byName.get(`${prefix}feedlog.cluster.changelog`)!;
      expect(declaredConfig(changelog)['cleanup.policy']).toBe('compact');
      for (const t of topics) expect(t.minInsyncReplicas).toBeLessThanOrEqual(t.replicationFactor);
    });
  }

  it('without a prefix it owns feedlog.* and <stage>.dlq, not other people’s or prefixed test topics', () => {
    const { owns } = declareFeedlog();
    expect(owns('feedlog.old.changelog')).toBe(true);
    expect(owns('enrich.dlq')).toBe(true);
    expect(owns('it-abc123-classify.dlq')).toBe(false);
    expect(owns('orders')).toBe(false);
    expect(owns('_schemas')).toBe(false);
    expect(owns('__consumer_offsets')).toBe(false);
  });
});
