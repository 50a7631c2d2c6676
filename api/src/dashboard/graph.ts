import type { GroupLag } from '@feedlog/lag';
import { declareFeedlog, type StageName, stageNames } from '@feedlog/topics';

/** The pipeline as the page draws it: producers → topics → stages → PostgreSQL / vector index. */
export interface PipelineGraph {
  nodes: { id: string; kind: 'producer' | 'topic' | 'dlq' | 'stage' | 'sink'; label: string }[];
  edges: { from: string; to: string }[];
  /** the consuming stages, in pipeline order (the chart's series) */
  stages: StageName[];
}

/** Built from the topic declarations (topics as code), so the page shows what `topics apply` creates. */
export function pipelineGraph(prefix = ''): PipelineGraph {
  const d = declareFeedlog({ prefix });
  const nodes: PipelineGraph['nodes'] = [];
  const edges: PipelineGraph['edges'] = [];
  const topicId = (t: string) => `topic:${t.slice(prefix.length)}`;
  for (const t of d.topics) {
    if (t.name.endsWith('changelog')) continue; // the cluster stage's private state
    const dlq = t.value?.record === 'DeadLetter';
    nodes.push({ id: topicId(t.name), kind: dlq ? 'dlq' : 'topic', label: t.name.slice(prefix.length) });
  }
  nodes.push({ id: 'producer:ingest', kind: 'producer', label: 'POST /v1/items · produce · SDK' });
  for (const s of d.stages) {
    if (s.name === 'ingest') {
      for (const t of s.produces) edges.push({ from: 'producer:ingest', to: topicId(t) });
      continue;
    }
    nodes.push({ id: `stage:${s.name}`, kind: 'stage', label: s.name });
    for (const t of s.consumes) if (!t.endsWith('changelog')) edges.push({ from: topicId(t), to: `stage:${s.name}` });
    for (const t of s.produces) if (!t.endsWith('changelog')) edges.push({ from: `stage:${s.name}`, to: topicId(t) });
    if (s.deadLetterTopic) edges.push({ from: `stage:${s.name}`, to: topicId(s.deadLetterTopic) });
  }
  nodes.push(
    { id: 'sink:postgres', kind: 'sink', label: 'PostgreSQL' },
    { id: 'sink:index', kind: 'sink', label: 'vector index' },
  );
  edges.push({ from: 'stage:materialize', to: 'sink:postgres' }, { from: 'stage:index', to: 'sink:index' });
  return { nodes, edges, stages: stageNames.filter((s) => s !== 'ingest') };
}

/**
 * The feedlog stage a group runs, when it reads this deployment's topics: the last dot-separated
 * part of its stage name (`feedlog.embed.g3` → embed; a test's `<prefix>.embed.g1` → embed).
 */
export function stageOfGroup(g: GroupLag, topics: ReadonlySet<string>): StageName | undefined {
  if (!g.partitions.some((p) => topics.has(p.topic))) return undefined;
  const name = g.stage ?? g.group.replace(/\.g\d+$/, '');
  const base = name.slice(name.lastIndexOf('.') + 1);
  return (stageNames as readonly string[]).includes(base) && base !== 'ingest' ? (base as StageName) : undefined;
}

export function declaredTopics(prefix = ''): Set<string> {
  return new Set(declareFeedlog({ prefix }).topics.map((t) => t.name));
}
