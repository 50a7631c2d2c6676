import kafkajs, { type Admin } from 'kafkajs';
import { declareFeedlog, type FeedlogDeclarations } from './declarations.ts';
import { type ActualState, type ActualTopic, planTopics, type TopicPlan } from './plan.ts';

// Not named exports under Node's ESM loader (kafkajs is CommonJS): take them from the default export.
const { ConfigResourceTypes, ConfigSource } = kafkajs;

export interface ApplyOptions {
  /** A kafkajs admin client; applyTopics connects it if needed and leaves it connected. */
  admin: Admin;
  dryRun?: boolean;
  force?: boolean;
  /** The declaration set (default: declareFeedlog({ prefix })). */
  declarations?: FeedlogDeclarations;
  prefix?: string;
  /** Milliseconds Kafka may take per admin request. */
  timeout?: number;
}

export interface ApplyResult extends TopicPlan {
  dryRun: boolean;
  /** The actions carried out (empty on a dry run). */
  applied: TopicPlan['actions'];
  /** True when there was nothing to do. */
  noChanges: boolean;
}

/** Read what the cluster has for the declared topics and every topic the declarations own. */
export async function readActualState(admin: Admin, declarations: FeedlogDeclarations): Promise<ActualState> {
  const { brokers } = await admin.describeCluster();
  const existing = await admin.listTopics();
  const declared = new Set(declarations.topics.map((t) => t.name));
  const relevant = existing.filter((t) => declared.has(t) || declarations.owns(t)).sort();
  const topics: Record<string, ActualTopic> = {};
  if (relevant.length === 0) return { brokers: brokers.length, topics };

  const metadata = await admin.fetchTopicMetadata({ topics: relevant });
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: relevant.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
  });
  const configsByTopic = new Map(described.resources.map((r) => [r.resourceName, r]));
  for (const m of metadata.topics) {
    const p0 = m.partitions.find((p) => p.partitionId === 0) ?? m.partitions[0];
    const res = configsByTopic.get(m.name);
    if (res && res.errorCode !== 0)
      throw new Error(`describeConfigs ${m.name}: ${res.errorMessage} (${res.errorCode})`);
    const configs: ActualTopic['configs'] = {};
    for (const e of res?.configEntries ?? []) {
      configs[e.configName] = {
        value: e.configValue ?? null,
        override: e.configSource === ConfigSource.TOPIC_CONFIG,
      };
    }
    topics[m.name] = { partitions: m.partitions.length, replicationFactor: p0?.replicas.length ?? 0, configs };
  }
  return { brokers: brokers.length, topics };
}

/**
 * Bring the cluster to the declared topics: create missing ones, grow partitions, alter configs
 * that differ, delete undeclared owned topics only with `force`. With `dryRun` nothing changes.
 * Idempotent: a second run has no actions.
 */
export async function applyTopics(opts: ApplyOptions): Promise<ApplyResult> {
  const { admin } = opts;
  const declarations = opts.declarations ?? declareFeedlog({ prefix: opts.prefix ?? '' });
  const timeout = opts.timeout ?? 30_000;
  await admin.connect();
  const actual = await readActualState(admin, declarations);
  const plan = planTopics(declarations.topics, actual, { force: opts.force ?? false, owns: declarations.owns });
  const result: ApplyResult = {
    ...plan,
    dryRun: opts.dryRun ?? false,
    applied: [],
    noChanges: plan.actions.length === 0,
  };
  if (result.dryRun || plan.actions.length === 0) return result;

  const creates = plan.actions.filter((a) => a.kind === 'create');
  if (creates.length > 0) {
    await admin.createTopics({
      waitForLeaders: false, // kafkajs defaults to true
      timeout,
      topics: creates.map((a) => ({
        topic: a.topic,
        numPartitions: a.partitions,
        replicationFactor: a.replicationFactor,
        configEntries: Object.entries(a.config).map(([name, value]) => ({ name, value })),
      })),
    });
    // kafkajs' waitForLeaders gives up on the first UNKNOWN_TOPIC_OR_PARTITION a broker answers
    // while a new topic's metadata is still propagating; poll until every partition has a leader.
    await waitForLeaders(admin, creates, timeout);
    result.applied.push(...creates);
  }

  const grows = plan.actions.filter((a) => a.kind === 'add-partitions');
  if (grows.length > 0) {
    await admin.createPartitions({ timeout, topicPartitions: grows.map((a) => ({ topic: a.topic, count: a.to })) });
    result.applied.push(...grows);
  }

  const alters = plan.actions.filter((a) => a.kind === 'alter-config');
  if (alters.length > 0) {
    // kafkajs speaks AlterConfigs (not the incremental API): it replaces every topic-level override,
    // so each request carries the declared configs plus the undeclared overrides being kept.
    await admin.alterConfigs({
      validateOnly: false,
      resources: alters.map((a) => ({
        type: ConfigResourceTypes.TOPIC,
        name: a.topic,
        configEntries: Object.entries(a.entries).map(([name, value]) => ({ name, value })),
      })),
    });
    result.applied.push(...alters);
  }

  // Brokers learn of new topics and partitions asynchronously: return only once metadata shows them,
  // so the next run (or the caller) never sees the old state and plans the same change again.
  const expected = new Map<string, number>([
    ...creates.map((a) => [a.topic, a.partitions] as const),
    ...grows.map((a) => [a.topic, a.to] as const),
  ]);
  if (expected.size > 0) await waitForPartitions(admin, expected, timeout);

  const deletes = plan.actions.filter((a) => a.kind === 'delete');
  if (deletes.length > 0) {
    await admin.deleteTopics({ timeout, topics: deletes.map((a) => a.topic) });
    result.applied.push(...deletes);
  }
  return result;
}

async function waitForPartitions(admin: Admin, expected: Map<string, number>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...expected.keys()];
  while (pending.length > 0) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: pending });
      const seen = new Map(topics.map((t) => [t.name, t.partitions.length]));
      pending = pending.filter((t) => (seen.get(t) ?? 0) < expected.get(t)!);
    } catch {
      // unknown topic until metadata propagates: try again
    }
    if (pending.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`metadata did not show the new partitions of ${pending.join(', ')} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitForLeaders(admin: Admin, creates: { topic: string; partitions: number }[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const m = await admin.fetchTopicMetadata({ topics: creates.map((c) => c.topic) });
      const ready = creates.every((c) => {
        const parts = m.topics.find((t) => t.name === c.topic)?.partitions ?? [];
        return parts.length === c.partitions && parts.every((p) => p.leader >= 0);
      });
      if (ready) return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    if (Date.now() > deadline) throw new Error(`topics created but without leaders after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
