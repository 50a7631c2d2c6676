import type {
  ClassifiedHeadline,
  ClusteredHeadline,
  DeadLetter,
  EmbeddedHeadline,
  Headline,
  IndexedHeadline,
  RawHeadline,
} from '@feedlog/schemas';

/** The stage whose output a topic carries (raw-headlines is the output of ingest). */
export type ItemStage = 'ingest' | 'classify' | 'cluster' | 'embed' | 'index';

/** A decoded record of one of the topics the materializer reads. */
export type StageRecord =
  | { stage: 'ingest'; value: RawHeadline }
  | { stage: 'classify'; value: ClassifiedHeadline }
  | { stage: 'cluster'; value: ClusteredHeadline }
  | { stage: 'embed'; value: EmbeddedHeadline }
  | { stage: 'index'; value: IndexedHeadline };

interface Versioned {
  generation: number;
  /** epoch ms: the stage's produced_at (index: indexed_at) */
  at: number;
}
export interface ClassifyBlock extends Versioned {
  category: string;
  confidence: number;
  model: string;
  version: string;
}
export interface ClusterBlock extends Versioned {
  storyId: string;
  similarity: number;
  isNew: boolean;
  model: string;
  version: string;
}
export interface EmbedBlock extends Versioned {
  model: string;
  version: string;
  dimensions: number;
}
export interface IndexBlock extends Versioned {
  collection: string;
  model: string;
  version: string;
}

/** What one or more records say about one item; each block keeps its newest version. */
export interface ItemRow {
  itemId: string;
  headline: Headline;
  /** Job of the newest raw-headlines record (other topics' job ids are replays'), with its ingested_at. */
  job: { id: string; ingestedAt: number } | null;
  classify: ClassifyBlock | null;
  cluster: ClusterBlock | null;
  embed: EmbedBlock | null;
  index: IndexBlock | null;
  /**
   * Blocks of other generations the batch also carried (a replay's generation beside the serving
   * one): the materializer applies the serving generation's and parks the newer ones.
   */
  others?: { classify?: ClassifyBlock[]; cluster?: ClusterBlock[]; embed?: EmbedBlock[]; index?: IndexBlock[] };
}

/** One (job, stage, item) step and how many records of the batch brought it. */
export interface StepRow {
  jobId: string;
  stage: ItemStage;
  itemId: string;
  generation: number | null;
  records: number;
  firstAt: number;
  lastAt: number;
}

export interface FailureRow {
  stage: string;
  itemId: string | null;
  jobId: string | null;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: number;
  consumerGroup: string | null;
  generation: number | null;
  error: { class: string; message: string; retriable: boolean; attempts: number; stack: string | null };
  failedAt: number;
}

/** b replaces a when it is of a newer generation, or the same generation and later. */
export function newer(a: Versioned | null, b: Versioned | null): boolean {
  if (!b) return false;
  if (!a) return true;
  return b.generation > a.generation || (b.generation === a.generation && b.at > a.at);
}

function blocksOf(r: StageRecord): Omit<ItemRow, 'itemId' | 'headline' | 'job'> {
  const v = r.value;
  const c = 'classification' in v ? v.classification : null;
  const s = 'story' in v ? v.story : null;
  const e = 'embedding' in v ? v.embedding : null;
  const i = 'index' in v ? v.index : null;
  return {
    classify: c && {
      category: c.category,
      confidence: c.confidence,
      model: c.run.model_name,
      version: c.run.model_version,
      generation: c.run.generation,
      at: c.run.produced_at,
    },
    cluster: s && {
      storyId: s.story_id,
      similarity: s.similarity,
      isNew: s.is_new,
      model: s.run.model_name,
      version: s.run.model_version,
      generation: s.run.generation,
      at: s.run.produced_at,
    },
    embed: e && {
      model: e.run.model_name,
      version: e.run.model_version,
      dimensions: e.dimensions,
      generation: e.run.generation,
      at: e.run.produced_at,
    },
    index: i && {
      collection: i.collection,
      model: i.run.model_name,
      version: i.run.model_version,
      generation: i.run.generation,
      at: i.indexed_at,
    },
  };
}

type BlockKey = 'classify' | 'cluster' | 'embed' | 'index';
type AnyBlock = ClassifyBlock | ClusterBlock | EmbedBlock | IndexBlock;

/** `row[k]` becomes the newest block; one of another generation it displaces (or that loses) is kept in `others`. */
function keepNewest(row: ItemRow, k: BlockKey, b: AnyBlock | null): void {
  if (!b) return;
  const blocks = row as unknown as Record<BlockKey, AnyBlock | null>;
  const cur = blocks[k];
  const [win, lose] = newer(cur, b) ? [b, cur] : [cur, b];
  blocks[k] = win;
  if (!lose || !win || lose.generation === win.generation) return;
  row.others ??= {};
  const others = row.others as Record<BlockKey, AnyBlock[] | undefined>;
  const list = others[k] ?? [];
  const same = list.findIndex((x) => x.generation === lose.generation);
  if (same < 0) list.push(lose);
  else if (newer(list[same] ?? null, lose)) list[same] = lose;
  others[k] = list;
}

/** The time and generation a record's own stage stamped on it. */
export function stepOf(r: StageRecord): { generation: number | null; at: number } {
  switch (r.stage) {
    case 'ingest':
      return { generation: null, at: r.value.headline.ingested_at };
    case 'classify':
      return { generation: r.value.classification.run.generation, at: r.value.classification.run.produced_at };
    case 'cluster':
      return { generation: r.value.story.run.generation, at: r.value.story.run.produced_at };
    case 'embed':
      return { generation: r.value.embedding.run.generation, at: r.value.embedding.run.produced_at };
    case 'index':
      return { generation: r.value.index.run.generation, at: r.value.index.indexed_at };
  }
}

/**
 * Fold a batch into one row per item and one step per (job, stage, item), with the same rule
 * the SQL upsert applies (so the result does not depend on the order records arrive in):
 * every later stage copies the earlier blocks, and each block keeps its newest (generation, time).
 * Rows come out sorted by key, so concurrent transactions lock rows in the same order.
 */
export function foldBatch(records: StageRecord[]): { items: ItemRow[]; steps: StepRow[]; jobs: string[] } {
  const items = new Map<string, ItemRow>();
  const steps = new Map<string, StepRow>();
  const jobs = new Set<string>();
  for (const r of records) {
    const v = r.value;
    jobs.add(v.job_id);
    const b = blocksOf(r);
    const job = r.stage === 'ingest' ? { id: v.job_id, ingestedAt: v.headline.ingested_at } : null;
    const cur = items.get(v.item_id);
    if (!cur) {
      items.set(v.item_id, { itemId: v.item_id, headline: v.headline, job, ...b });
    } else {
      if (v.headline.ingested_at > cur.headline.ingested_at) cur.headline = v.headline;
      if (job && (!cur.job || job.ingestedAt > cur.job.ingestedAt)) cur.job = job;
      keepNewest(cur, 'classify', b.classify);
      keepNewest(cur, 'cluster', b.cluster);
      keepNewest(cur, 'embed', b.embed);
      keepNewest(cur, 'index', b.index);
    }
    const { generation, at } = stepOf(r);
    const key = `${v.job_id}\u0000${r.stage}\u0000${v.item_id}`;
    const s = steps.get(key);
    if (!s) {
      steps.set(key, {
        jobId: v.job_id,
        stage: r.stage,
        itemId: v.item_id,
        generation,
        records: 1,
        firstAt: at,
        lastAt: at,
      });
    } else {
      s.records++;
      if (generation !== null && (s.generation === null || generation > s.generation)) s.generation = generation;
      s.firstAt = Math.min(s.firstAt, at);
      s.lastAt = Math.max(s.lastAt, at);
    }
  }
  const byKey = <T>(m: Map<string, T>) =>
    [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, x]) => x);
  return { items: byKey(items), steps: byKey(steps), jobs: [...jobs].sort() };
}

/** A stage's dead letter as a failure row. */
export function failureFromDeadLetter(d: DeadLetter): FailureRow {
  return {
    stage: d.stage,
    itemId: d.item_id,
    jobId: d.job_id,
    sourceTopic: d.source_topic,
    sourcePartition: d.source_partition,
    sourceOffset: d.source_offset,
    consumerGroup: d.consumer_group,
    generation: d.generation,
    error: {
      class: d.error_class,
      message: d.error_message,
      retriable: d.retriable,
      attempts: d.attempts,
      stack: d.error_stack,
    },
    failedAt: d.failed_at,
  };
}
