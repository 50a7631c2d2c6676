import { QdrantClient } from '@qdrant/js-client-rest';
import { v5 as uuidv5 } from 'uuid';
import {
  collectionName,
  type Generation,
  type HeadlinePayload,
  hasFilter,
  type IndexPoint,
  IndexUsageError,
  type Metric,
  type SearchFilter,
  type SearchHit,
  type SearchOptions,
  type VectorIndex,
} from './types.ts';

/**
 * A failed request's HTTP status and Qdrant's error text (`{"status":{"error":"…"}}` in the body):
 * the client's ApiError carries them as `status` and `data`, its message is only the status text.
 */
export function qdrantFailure(e: unknown): { status: number | undefined; error: string } {
  const x = e as { status?: unknown; data?: { status?: { error?: unknown } } } | undefined;
  const status = typeof x?.status === 'number' ? x.status : undefined;
  const body = x?.data?.status?.error;
  return { status, error: typeof body === 'string' ? body : String((e as Error)?.message ?? e) };
}

/** 409, or Qdrant ≤ 1.x's 400 "Wrong input: Collection `…` already exists!" */
function isAlreadyExists(e: unknown): boolean {
  const f = qdrantFailure(e);
  return f.status === 409 || /already exists/i.test(f.error);
}

function isNotFound(e: unknown): boolean {
  return qdrantFailure(e).status === 404;
}

/** UUID v5 namespace of feedlog item ids: v5('https://feedlog.dev/item-id', URL namespace), fixed forever. */
export const ITEM_ID_NAMESPACE = uuidv5('https://feedlog.dev/item-id', uuidv5.URL);

/** The Qdrant point id of an item: deterministic, so a re-delivered record upserts the same point. */
export function pointId(itemId: string): string {
  return uuidv5(itemId, ITEM_ID_NAMESPACE);
}

const distanceOf: Record<Metric, 'Cosine' | 'Dot' | 'Euclid'> = { cosine: 'Cosine', dot: 'Dot', euclid: 'Euclid' };

/** payload fields with an index (the filters SearchFilter offers) */
export const payloadIndexes = [
  { field_name: 'category', field_schema: 'keyword' },
  { field_name: 'source', field_schema: 'keyword' },
  { field_name: 'story_id', field_schema: 'keyword' },
  { field_name: 'published_at', field_schema: 'integer' },
] as const;

type Condition = { key: string; match: { value: string } } | { key: string; range: { gte?: number; lte?: number } };

export function toQdrantFilter(f: SearchFilter | undefined): { must: Condition[] } | undefined {
  if (!hasFilter(f)) return undefined;
  const must: Condition[] = [];
  if (f.category !== undefined) must.push({ key: 'category', match: { value: f.category } });
  if (f.source !== undefined) must.push({ key: 'source', match: { value: f.source } });
  if (f.storyId !== undefined) must.push({ key: 'story_id', match: { value: f.storyId } });
  if (f.since !== undefined || f.until !== undefined) {
    const range: { gte?: number; lte?: number } = {};
    if (f.since !== undefined) range.gte = f.since;
    if (f.until !== undefined) range.lte = f.until;
    must.push({ key: 'published_at', range });
  }
  return { must };
}

export interface QdrantIndexOptions {
  url: string;
  apiKey?: string;
  /** ms per request (default 10 s) */
  timeout?: number;
  /** ask the server for its version and warn on a mismatch (default false: one request less) */
  checkCompatibility?: boolean;
  client?: QdrantClient;
}

/**
 * Qdrant backend: one collection per generation (`headlines_g<N>`), the serving name is a Qdrant
 * collection alias (flipped in one `POST /collections/aliases` call that deletes and creates it,
 * after checking the target exists: see flipAlias), point ids are UUID v5 of the item id, the payload carries the
 * item id and the fields search filters on, with payload indexes on category/source/story_id
 * (keyword) and published_at (integer, epoch ms). Writes wait for the server to apply them
 * (`wait=true`) so "upsert resolved" means "searchable".
 */
export class QdrantIndex implements VectorIndex {
  readonly backend = 'qdrant' as const;
  readonly client: QdrantClient;

  constructor(opts: QdrantIndexOptions) {
    this.client =
      opts.client ??
      new QdrantClient({
        url: opts.url,
        ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
        timeout: opts.timeout ?? 10_000,
        checkCompatibility: opts.checkCompatibility ?? false,
      });
  }

  collectionName(gen: Generation): string {
    return collectionName(gen);
  }

  async ensureGeneration(gen: Generation, dims: number, metric: Metric): Promise<void> {
    const name = collectionName(gen);
    const { exists } = await this.client.collectionExists(name);
    if (exists) return this.checkVectors(name, dims, metric);
    try {
      await this.client.createCollection(name, { vectors: { size: dims, distance: distanceOf[metric] } });
    } catch (e) {
      // Another instance created it between our check and our create (409 Conflict; the client's
      // message is only the status text, "already exists" is in the body). Its vector config must
      // be ours; the payload indexes are created anyway (idempotent) in case that instance died first.
      if (!isAlreadyExists(e)) throw e;
      await this.checkVectors(name, dims, metric);
    }
    for (const idx of payloadIndexes) {
      await this.client.createPayloadIndex(name, { wait: true, ...idx });
    }
  }

  private async checkVectors(name: string, dims: number, metric: Metric): Promise<void> {
    const info = await this.client.getCollection(name);
    const vectors = info.config.params.vectors as { size?: number; distance?: string } | undefined;
    if (vectors?.size !== dims || vectors?.distance !== distanceOf[metric])
      throw new IndexUsageError(
        `${name} exists with ${vectors?.size} dims/${vectors?.distance}, asked ${dims}/${distanceOf[metric]}`,
      );
  }

  async upsert(gen: Generation, points: readonly IndexPoint[]): Promise<void> {
    if (points.length === 0) return;
    // last write wins within a batch: one point per item id
    const byId = new Map<string, IndexPoint>();
    for (const p of points) byId.set(p.itemId, p);
    await this.client.upsert(collectionName(gen), {
      wait: true,
      points: [...byId.values()].map((p) => ({
        id: pointId(p.itemId),
        vector: Array.from(p.vector),
        payload: { item_id: p.itemId, ...p.payload },
      })),
    });
  }

  async delete(gen: Generation, itemIds: readonly string[]): Promise<void> {
    if (itemIds.length === 0) return;
    await this.client.delete(collectionName(gen), { wait: true, points: itemIds.map(pointId) });
  }

  async search(
    target: string | Generation,
    vector: Float32Array | readonly number[],
    opts: SearchOptions = {},
  ): Promise<SearchHit[]> {
    const name = typeof target === 'number' ? collectionName(target) : target;
    const filter = toQdrantFilter(opts.filter);
    let res: Awaited<ReturnType<QdrantClient['query']>>;
    try {
      res = await this.client.query(name, {
        query: Array.from(vector),
        limit: opts.limit ?? 10,
        offset: opts.offset ?? 0,
        with_payload: true,
        ...(filter ? { filter } : {}),
        ...(opts.ef !== undefined ? { params: { hnsw_ef: opts.ef } } : {}),
      });
    } catch (e) {
      // Qdrant resolves aliases like collection names: a 404 means nothing serves this name yet,
      // a caller's precondition (the embedded backend's answer), not an outage.
      if (!isNotFound(e)) throw e;
      throw new IndexUsageError(
        typeof target === 'number'
          ? `generation ${target} (${name}) does not exist`
          : `alias ${target} does not name a generation`,
        { cause: e },
      );
    }
    return res.points.map((p) => {
      const { item_id, ...payload } = (p.payload ?? {}) as unknown as HeadlinePayload & { item_id: string };
      return { itemId: item_id, score: p.score, payload: payload as HeadlinePayload };
    });
  }

  /**
   * Qdrant holds its collection lock over the whole ChangeAliasesOperation (readers never see a
   * half-switched alias) but applies and persists the actions one by one: a `create_alias` that
   * fails (404, the collection is gone) leaves the `delete_alias` before it applied, and the alias
   * deleted. So the target is checked first (refused as the embedded backend refuses it, with
   * nothing sent), and should it vanish between the check and the flip, the previous target is
   * put back.
   */
  async flipAlias(alias: string, gen: Generation): Promise<void> {
    const target = collectionName(gen);
    const { exists } = await this.client.collectionExists(target);
    if (!exists) throw new IndexUsageError(`cannot point ${alias} at missing ${target}`);
    const before = await this.aliasTarget(alias);
    try {
      await this.client.updateCollectionAliases({
        actions: [
          { delete_alias: { alias_name: alias } },
          { create_alias: { collection_name: target, alias_name: alias } },
        ],
      });
    } catch (e) {
      if (before !== undefined && (await this.aliasTarget(alias)) === undefined) {
        await this.client.updateCollectionAliases({
          actions: [{ create_alias: { collection_name: before, alias_name: alias } }],
        });
      }
      if (isNotFound(e)) throw new IndexUsageError(`cannot point ${alias} at missing ${target}`, { cause: e });
      throw e;
    }
  }

  /** the collection an alias names, or undefined */
  private async aliasTarget(alias: string): Promise<string | undefined> {
    const { aliases } = await this.client.getAliases();
    return aliases.find((a) => a.alias_name === alias)?.collection_name;
  }

  async servingGeneration(alias: string): Promise<Generation | undefined> {
    const hit = await this.aliasTarget(alias);
    const m = hit ? /^headlines_g(\d+)$/.exec(hit) : null;
    return m ? Number(m[1]) : undefined;
  }

  async dropGeneration(gen: Generation): Promise<void> {
    const name = collectionName(gen);
    const { aliases } = await this.client.getAliases();
    const serving = aliases.filter((a) => a.collection_name === name).map((a) => a.alias_name);
    if (serving.length) throw new IndexUsageError(`${name} is served by alias ${serving.join(', ')}`);
    await this.client.deleteCollection(name);
  }

  async count(gen: Generation): Promise<number> {
    return (await this.client.count(collectionName(gen), { exact: true })).count;
  }

  async close(): Promise<void> {}
}
