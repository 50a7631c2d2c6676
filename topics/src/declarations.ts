/**
 * Topics as code: every feedlog topic, the stage that produces it, the stages that consume it,
 * the Avro record it carries and where its consumers dead-letter what they cannot process.
 * `declareFeedlog({ prefix })` returns the whole set with every name prefixed (tests use a unique
 * prefix per run; production uses none).
 */

export const stageNames = ['ingest', 'classify', 'cluster', 'embed', 'index', 'materialize'] as const;
export type StageName = (typeof stageNames)[number];

/** Records of @feedlog/schemas (schemas/test checks this list against the .avsc files). */
export type ValueRecord =
  | 'RawHeadline'
  | 'ClassifiedHeadline'
  | 'ClusteredHeadline'
  | 'EmbeddedHeadline'
  | 'IndexedHeadline'
  | 'DeadLetter';

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';

export interface TopicDeclaration {
  name: string;
  description: string;
  partitions: number;
  /** Desired replication factor; `topics apply` caps it at the number of brokers and says so. */
  replicationFactor: number;
  /** Desired min.insync.replicas; capped with the replication factor (below it when RF is capped). */
  minInsyncReplicas: number;
  cleanupPolicy: CleanupPolicy;
  /** retention.ms; -1 keeps everything. */
  retentionMs: number;
  /** Other topic configs to enforce (string values as Kafka reports them). */
  config: Record<string, string>;
  /** What the Kafka key holds. */
  key: string;
  /** The value's Avro record and its subject (TopicNameStrategy: `<topic>-value`); null when the value format belongs to the stage (changelog). */
  value: { record: ValueRecord; subject: string } | null;
  producer: StageName;
  consumers: StageName[];
  /** Where each consuming stage sends the records of this topic it cannot process. */
  deadLetter: Partial<Record<StageName, string>>;
}

export interface StageDeclaration {
  name: StageName;
  description: string;
  consumes: string[];
  produces: string[];
  /** Its `<stage>.dlq`; null for a stage that consumes nothing (ingest rejects bad input at the API). */
  deadLetterTopic: string | null;
}

export interface FeedlogDeclarations {
  prefix: string;
  topics: TopicDeclaration[];
  stages: StageDeclaration[];
  /** Topics this declaration set owns: undeclared ones matching it are reported as drift (and deleted with --force). */
  owns(topic: string): boolean;
}

const DAY = 24 * 60 * 60 * 1000;

/** Base names (before the prefix). */
export const topicNames = {
  raw: 'raw-headlines',
  classified: 'classified',
  clustered: 'clustered',
  embedded: 'embedded',
  indexed: 'indexed',
  clusterChangelog: 'feedlog.cluster.changelog',
} as const;

export const dlqName = (stage: StageName): string => `${stage}.dlq`;

export function declareFeedlog(opts: { prefix?: string } = {}): FeedlogDeclarations {
  const prefix = opts.prefix ?? '';
  const p = (name: string) => `${prefix}${name}`;
  const dlq = (stage: StageName) => p(dlqName(stage));

  const stages: StageDeclaration[] = [
    {
      name: 'ingest',
      description: 'HTTP push, RSS/Atom poller, CLI and SDK producers',
      consumes: [],
      produces: [p(topicNames.raw)],
      deadLetterTopic: null,
    },
    {
      name: 'classify',
      description: 'assigns a category',
      consumes: [p(topicNames.raw)],
      produces: [p(topicNames.classified)],
      deadLetterTopic: dlq('classify'),
    },
    {
      name: 'cluster',
      description: 'groups headlines into stories; keeps its story state in a compacted changelog',
      consumes: [p(topicNames.classified), p(topicNames.clusterChangelog)],
      produces: [p(topicNames.clustered), p(topicNames.clusterChangelog)],
      deadLetterTopic: dlq('cluster'),
    },
    {
      name: 'embed',
      description: 'computes the embedding vector',
      consumes: [p(topicNames.clustered)],
      produces: [p(topicNames.embedded)],
      deadLetterTopic: dlq('embed'),
    },
    {
      name: 'index',
      description: 'writes vectors to the vector index',
      consumes: [p(topicNames.embedded)],
      produces: [p(topicNames.indexed)],
      deadLetterTopic: dlq('index'),
    },
    {
      name: 'materialize',
      description: 'upserts every stage output into PostgreSQL',
      consumes: [
        p(topicNames.raw),
        p(topicNames.classified),
        p(topicNames.clustered),
        p(topicNames.embedded),
        p(topicNames.indexed),
      ],
      produces: [],
      deadLetterTopic: dlq('materialize'),
    },
  ];

  const consumersOf = (topic: string) => stages.filter((s) => s.consumes.includes(topic)).map((s) => s.name);
  const deadLetterOf = (topic: string) =>
    Object.fromEntries(consumersOf(topic).map((s) => [s, dlq(s)])) as Partial<Record<StageName, string>>;

  const data = (
    base: string,
    record: ValueRecord,
    producer: StageName,
    description: string,
    retentionMs: number,
  ): TopicDeclaration => ({
    name: p(base),
    description,
    partitions: 6,
    replicationFactor: 3,
    minInsyncReplicas: 2,
    cleanupPolicy: 'delete',
    retentionMs,
    config: {},
    key: 'item_id (UTF-8)',
    value: { record, subject: `${p(base)}-value` },
    producer,
    consumers: consumersOf(p(base)),
    deadLetter: deadLetterOf(p(base)),
  });

  const topics: TopicDeclaration[] = [
    data(topicNames.raw, 'RawHeadline', 'ingest', 'every accepted item; the source of replay, kept forever', -1),
    data(topicNames.classified, 'ClassifiedHeadline', 'classify', 'items with a category', 14 * DAY),
    data(topicNames.clustered, 'ClusteredHeadline', 'cluster', 'items with a story id', 14 * DAY),
    data(topicNames.embedded, 'EmbeddedHeadline', 'embed', 'items with their embedding vector', 14 * DAY),
    data(topicNames.indexed, 'IndexedHeadline', 'index', 'items written to the vector index', 14 * DAY),
    {
      name: p(topicNames.clusterChangelog),
      description: 'story state of the cluster stage (centroid, size), last value per story, restored at start',
      // Story state is global (any item may join any story), so one ordered partition.
      partitions: 1,
      replicationFactor: 3,
      minInsyncReplicas: 2,
      cleanupPolicy: 'compact',
      retentionMs: -1,
      config: { 'min.cleanable.dirty.ratio': '0.1' },
      key: 'story_id (UTF-8)',
      value: null,
      producer: 'cluster',
      consumers: consumersOf(p(topicNames.clusterChangelog)),
      deadLetter: deadLetterOf(p(topicNames.clusterChangelog)),
    },
    ...stages
      .filter((s) => s.deadLetterTopic !== null)
      .map(
        (s): TopicDeclaration => ({
          name: s.deadLetterTopic!,
          description: `records the ${s.name} stage could not process, with their original bytes`,
          partitions: 1,
          replicationFactor: 3,
          minInsyncReplicas: 2,
          cleanupPolicy: 'delete',
          retentionMs: 30 * DAY,
          config: {},
          key: 'original key',
          value: { record: 'DeadLetter', subject: `${s.deadLetterTopic}-value` },
          producer: s.name,
          consumers: [],
          deadLetter: {},
        }),
      ),
  ];

  const stageWord = /^[a-z]+\.dlq$/;
  const owns = (topic: string): boolean => {
    if (topic.startsWith('_')) return false; // Kafka internals, _schemas
    if (prefix) return topic.startsWith(prefix);
    // Unprefixed: the feedlog.* family and <stage>.dlq names (a single lower-case word).
    return topic.startsWith('feedlog.') || stageWord.test(topic);
  };

  return { prefix, topics, stages, owns };
}

/** The Kafka topic configs a declaration asks for, with min.insync.replicas as given. */
export function declaredConfig(t: TopicDeclaration, minInsyncReplicas = t.minInsyncReplicas): Record<string, string> {
  return {
    'cleanup.policy': t.cleanupPolicy,
    'retention.ms': String(t.retentionMs),
    'min.insync.replicas': String(minInsyncReplicas),
    ...t.config,
  };
}
