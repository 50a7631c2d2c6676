import { declaredConfig, type TopicDeclaration } from './declarations.ts';

/** What the cluster has, as far as planning needs it. */
export interface ActualTopic {
  partitions: number;
  /** Replicas of partition 0 (Kafka keeps one replication factor per topic unless reassigned). */
  replicationFactor: number;
  /** Every config the broker reports for the topic, with whether it is a topic-level override. */
  configs: Record<string, { value: string | null; override: boolean }>;
}

export interface ActualState {
  brokers: number;
  topics: Record<string, ActualTopic>;
}

export interface ReplicationCap {
  topic: string;
  desiredReplicationFactor: number;
  replicationFactor: number;
  desiredMinInsyncReplicas: number;
  minInsyncReplicas: number;
}

export type Action =
  | { kind: 'create'; topic: string; partitions: number; replicationFactor: number; config: Record<string, string> }
  | { kind: 'add-partitions'; topic: string; from: number; to: number }
  | {
      kind: 'alter-config';
      topic: string;
      changes: { name: string; from: string | null; to: string }[];
      /** The full set of topic-level overrides to send (AlterConfigs replaces them all): declared ones + kept undeclared ones. */
      entries: Record<string, string>;
    }
  | { kind: 'delete'; topic: string };

export type DriftKind =
  | 'missing'
  | 'partitions'
  | 'replication'
  | 'config'
  | 'undeclared-override'
  | 'undeclared-topic';

export interface Drift {
  topic: string;
  kind: DriftKind;
  detail: string;
  /** What apply does about it; 'report only' when it will not change anything. */
  fix: 'create' | 'add partitions' | 'alter config' | 'delete' | 'report only';
}

export interface TopicPlan {
  brokers: number;
  caps: ReplicationCap[];
  actions: Action[];
  drift: Drift[];
}

/** Replication factor and min.insync.replicas a declaration gets on a cluster of `brokers` brokers. */
export function effectiveReplication(t: TopicDeclaration, brokers: number): ReplicationCap {
  const rf = Math.max(1, Math.min(t.replicationFactor, brokers));
  // Below the desired RF keep one replica of slack (RF 2 → min ISR 1) so one broker can be down.
  const minIsr = rf >= t.replicationFactor ? t.minInsyncReplicas : Math.max(1, Math.min(t.minInsyncReplicas, rf - 1));
  return {
    topic: t.name,
    desiredReplicationFactor: t.replicationFactor,
    replicationFactor: rf,
    desiredMinInsyncReplicas: t.minInsyncReplicas,
    minInsyncReplicas: minIsr,
  };
}

/**
 * The changes that bring `actual` to `declared`, and every difference found. Pure: the caller
 * gathers `actual` from the cluster and executes the actions.
 * Never shrinks partitions or changes replication (reported), deletes undeclared owned topics
 * only with `force`, keeps undeclared topic-level overrides (reported).
 */
export function planTopics(
  declared: TopicDeclaration[],
  actual: ActualState,
  opts: { force?: boolean; owns?: (topic: string) => boolean } = {},
): TopicPlan {
  const actions: Action[] = [];
  const drift: Drift[] = [];
  const caps: ReplicationCap[] = [];
  const names = new Set<string>();

  for (const t of declared) {
    if (names.has(t.name)) throw new Error(`topic ${t.name} is declared twice`);
    names.add(t.name);
    const rep = effectiveReplication(t, actual.brokers);
    if (rep.replicationFactor !== t.replicationFactor || rep.minInsyncReplicas !== t.minInsyncReplicas) caps.push(rep);
    const want = declaredConfig(t, rep.minInsyncReplicas);
    const have = actual.topics[t.name];

    if (!have) {
      actions.push({
        kind: 'create',
        topic: t.name,
        partitions: t.partitions,
        replicationFactor: rep.replicationFactor,
        config: want,
      });
      drift.push({
        topic: t.name,
        kind: 'missing',
        detail: `${t.partitions} partitions, RF ${rep.replicationFactor}`,
        fix: 'create',
      });
      continue;
    }

    if (have.partitions < t.partitions) {
      actions.push({ kind: 'add-partitions', topic: t.name, from: have.partitions, to: t.partitions });
      drift.push({
        topic: t.name,
        kind: 'partitions',
        detail: `partitions ${have.partitions} → ${t.partitions} (keys move to new partitions for new records)`,
        fix: 'add partitions',
      });
    } else if (have.partitions > t.partitions) {
      drift.push({
        topic: t.name,
        kind: 'partitions',
        detail: `has ${have.partitions} partitions, declared ${t.partitions}: Kafka cannot shrink a topic`,
        fix: 'report only',
      });
    }

    if (have.replicationFactor !== rep.replicationFactor) {
      drift.push({
        topic: t.name,
        kind: 'replication',
        detail: `replication factor ${have.replicationFactor}, declared ${rep.replicationFactor} (change it with a partition reassignment)`,
        fix: 'report only',
      });
    }

    const changes: { name: string; from: string | null; to: string }[] = [];
    for (const [name, value] of Object.entries(want)) {
      const current = have.configs[name]?.value ?? null;
      if (current !== value) changes.push({ name, from: current, to: value });
    }
    const undeclaredOverrides = Object.entries(have.configs).filter(([name, c]) => c.override && !(name in want));
    for (const [name, c] of undeclaredOverrides) {
      drift.push({
        topic: t.name,
        kind: 'undeclared-override',
        detail: `${name}=${c.value} is set on the topic but not declared (kept)`,
        fix: 'report only',
      });
    }
    if (changes.length > 0) {
      const entries: Record<string, string> = {};
      for (const [name, c] of undeclaredOverrides) if (c.value !== null) entries[name] = c.value;
      Object.assign(entries, want);
      actions.push({ kind: 'alter-config', topic: t.name, changes, entries });
      for (const c of changes) {
        drift.push({
          topic: t.name,
          kind: 'config',
          detail: `${c.name}: ${c.from ?? '(unset)'} → ${c.to}`,
          fix: 'alter config',
        });
      }
    }
  }

  const owns = opts.owns ?? (() => false);
  for (const name of Object.keys(actual.topics).sort()) {
    if (names.has(name) || !owns(name)) continue;
    if (opts.force) actions.push({ kind: 'delete', topic: name });
    drift.push({
      topic: name,
      kind: 'undeclared-topic',
      detail: opts.force ? 'not declared: deleted (--force)' : 'not declared (use --force to delete it)',
      fix: opts.force ? 'delete' : 'report only',
    });
  }

  return { brokers: actual.brokers, caps, actions, drift };
}
