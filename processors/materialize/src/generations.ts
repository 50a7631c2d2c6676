import type pg from 'pg';
import { type ItemRow, newer } from './rows.ts';

/**
 * `items` holds the serving generation of each stage only (issue 9: a newer generation replaces
 * the older one once it serves). A block of a generation newer than the serving one is parked in
 * `item_generation_blocks`; the replay's flip copies a generation's parked blocks into `items` in
 * the transaction that makes it serve (`applyParkedSql`). A stage with no serving row (a store
 * nobody replayed yet) keeps the plain newest-generation-wins rule.
 */
export type BlockStage = 'classify' | 'cluster' | 'embed' | 'index';
const STAGES: BlockStage[] = ['classify', 'cluster', 'embed', 'index'];

export interface ParkedBlock {
  itemId: string;
  stage: BlockStage;
  generation: number;
  block: object;
  at: number;
}

/** The serving generation per stage, locked FOR SHARE (in a fixed order) until the transaction ends. */
export async function servingGenerations(client: pg.PoolClient): Promise<Map<string, number>> {
  const r = await client.query<{ stage: string; generation: number }>(
    'SELECT stage, generation FROM generations WHERE serving ORDER BY stage FOR SHARE',
  );
  return new Map(r.rows.map((x) => [x.stage, x.generation]));
}

/**
 * Split rows into what `items` takes now and the blocks of not-yet-serving generations: per stage,
 * `items` gets the newest block of a generation up to the serving one, and the newest block of
 * each newer generation is parked.
 */
export function parkUnserved(
  rows: ItemRow[],
  serving: Map<string, number>,
): { items: ItemRow[]; parked: ParkedBlock[] } {
  if (serving.size === 0) return { items: rows, parked: [] };
  const parked: ParkedBlock[] = [];
  const items = rows.map((row) => {
    let out = row;
    for (const stage of STAGES) {
      const g = serving.get(stage);
      const all = [row[stage], ...(row.others?.[stage] ?? [])].filter(
        (b): b is NonNullable<ItemRow[typeof stage]> => !!b,
      );
      if (g === undefined || all.every((b) => b.generation <= g)) continue;
      let keep: (typeof all)[number] | null = null;
      for (const b of all) {
        if (b.generation > g) parked.push({ itemId: row.itemId, stage, generation: b.generation, block: b, at: b.at });
        else if (!keep || newer(keep, b)) keep = b;
      }
      out = { ...out, [stage]: keep };
    }
    return out;
  });
  return { items, parked };
}

export const parkBlocksSql = `INSERT INTO item_generation_blocks (item_id, stage, generation, block, at)
SELECT * FROM unnest($1::text[], $2::text[], $3::int4[], $4::jsonb[], $5::timestamptz[])
ON CONFLICT (stage, generation, item_id) DO UPDATE SET block = excluded.block, at = excluded.at
WHERE excluded.at >= item_generation_blocks.at`;

export function parkBlocksParams(blocks: ParkedBlock[]): unknown[][] {
  // a fixed lock order (the primary key's) so concurrent batches never deadlock
  const b = [...blocks].sort(
    (x, y) => x.stage.localeCompare(y.stage) || x.generation - y.generation || x.itemId.localeCompare(y.itemId),
  );
  return [
    b.map((x) => x.itemId),
    b.map((x) => x.stage),
    b.map((x) => x.generation),
    b.map((x) => JSON.stringify(x.block)),
    b.map((x) => new Date(x.at).toISOString()),
  ];
}

const at = "to_timestamp((b.block->>'at')::float8 / 1000)";
const setters: Record<BlockStage, string> = {
  classify: `category = b.block->>'category', confidence = (b.block->>'confidence')::float8,
    classify_model = b.block->>'model', classify_model_version = b.block->>'version',
    classify_generation = b.generation, classified_at = ${at}`,
  cluster: `story_id = b.block->>'storyId', story_similarity = (b.block->>'similarity')::float8,
    story_is_new = (b.block->>'isNew')::boolean, cluster_model = b.block->>'model',
    cluster_model_version = b.block->>'version', cluster_generation = b.generation, clustered_at = ${at}`,
  embed: `embed_model = b.block->>'model', embed_model_version = b.block->>'version',
    embed_dimensions = (b.block->>'dimensions')::int4, embed_generation = b.generation, embedded_at = ${at}`,
  index: `index_collection = b.block->>'collection', index_model = b.block->>'model',
    index_model_version = b.block->>'version', index_generation = b.generation, indexed_at = ${at}`,
};

/**
 * Copy a generation's parked blocks of one stage into `items` ($1 = generation). Run by the flip
 * in the transaction that moves `generations.serving`, after locking the serving rows.
 */
export function applyParkedSql(stage: BlockStage): string {
  return `UPDATE items i SET ${setters[stage]}, updated_at = now()
FROM item_generation_blocks b
WHERE b.stage = '${stage}' AND b.generation = $1 AND b.item_id = i.item_id`;
}
