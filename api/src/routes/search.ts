import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { SearchFilter, SearchHit } from '@feedlog/index/types';
import { servingSearchSql } from '@feedlog/replay/serving';
import { errors } from '../errors.ts';
import { query } from '../plugins/pg.ts';
import { ErrorBody, SearchQuery, SearchResponse } from '../schemas.ts';

export interface SearchRouteOptions {
  /** embedding model when no index generation is marked serving in `generations` (nothing replayed yet) */
  defaultModel: string;
  /** reciprocal rank fusion constant (60 in Cormack et al. 2009) */
  rrfK?: number;
  /**
   * how long the serving generation and model that the last search's row read confirmed are used
   * without reading them first (default 1 s; 0: read them before every search). Under load every
   * search confirms them, so a search makes one PostgreSQL round trip; the first after an idle
   * spell makes two.
   */
  servingTtlMs?: number;
}

/** what a search embeds with and searches in */
interface Serving {
  model: string;
  /** the serving index generation (from `generations`, or from the alias before any replay); null: nothing indexed */
  generation: number | null;
  /** the generation comes from the `generations` table (a replayed store), not from the alias */
  pinned: boolean;
}

/**
 * The row read, the serving generation and its model in the same statement: a flip between
 * reading what serves and reading the rows shows as a generation or model that differs from the
 * one the search used, and the search runs again. Parameterised ($1: the item ids).
 */
const joinSql = `WITH serving AS (${servingSearchSql})
SELECT serving.generation, serving.model_name,
       coalesce((SELECT json_agg(x) FROM (
         SELECT i.item_id, i.title, i.url, i.source, i.summary, i.published_at, i.category, i.confidence, i.story_id,
                s.size AS story_size, s.representative_title AS story_title
         FROM items i LEFT JOIN story_summary s ON s.story_id = i.story_id
         WHERE i.item_id = ANY($1)) x), '[]'::json) AS rows
FROM serving`;

interface ItemRow {
  item_id: string;
  title: string;
  url: string;
  source: string;
  summary: string | null;
  published_at: Date | null;
  category: string | null;
  confidence: number | null;
  story_id: string | null;
  story_size: string | number | null;
  story_title: string | null;
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/**
 * GET /v1/search: embed the query with the serving generation's model, ask that generation's
 * collection (the serving alias before any replay) with the filters, join the PostgreSQL rows. `mode=hybrid` fuses the vector
 * ranking with PostgreSQL full-text rank (websearch_to_tsquery over title + summary) by
 * reciprocal rank fusion: score = sum over rankings of 1 / (k + rank).
 */
export const searchRoutes: FastifyPluginAsyncTypebox<SearchRouteOptions> = async (app, opts) => {
  const rrfK = opts.rrfK ?? 60;
  const servingTtlMs = opts.servingTtlMs ?? 1_000;
  /** the serving state the last row read confirmed, and when */
  let confirmed: { serving: Serving; at: number } | undefined;

  /** the serving generation's model (or the configured one) and generation, from one `generations` read */
  async function readServing(): Promise<Serving> {
    let model = opts.defaultModel;
    if (await app.db.has('generations')) {
      const r = await query<{ model_name: string | null; generation: number | null }>(app, servingSearchSql);
      const row = r.rows[0];
      if (row?.model_name) model = row.model_name;
      if (row?.generation != null) return { model, generation: row.generation, pinned: true };
    }
    return { model, generation: null, pinned: false };
  }

  /**
   * What to search: the state the last row read confirmed while it is fresh (no round trip; the
   * row read checks it again), else read. Nothing replayed yet: the generation the alias names
   * (read per search; the index keeps the alias file parsed until it changes).
   */
  async function serving(fresh: boolean): Promise<{ serving: Serving; cached: boolean }> {
    const hit = !fresh && confirmed && performance.now() - confirmed.at < servingTtlMs ? confirmed.serving : undefined;
    const s = hit ?? (await readServing());
    if (s.pinned) return { serving: s, cached: hit !== undefined };
    const g = await app.vectorIndex.index?.servingGeneration(app.vectorIndex.alias).catch(() => undefined);
    return { serving: { ...s, generation: g ?? null }, cached: hit !== undefined };
  }

  app.get(
    '/search',
    {
      schema: {
        tags: ['search'],
        summary: 'Semantic (or hybrid) search over the indexed headlines',
        querystring: SearchQuery,
        response: { 200: SearchResponse, 400: ErrorBody, 503: ErrorBody },
      },
    },
    async (req) => {
      const q = req.query;
      const t0 = performance.now();
      const embedder = app.embedder;
      const index = app.vectorIndex.index;
      if (!embedder) throw errors.unavailable('search needs the embedder, which is not configured');
      if (!index) throw errors.unavailable('search needs the vector index, which is not configured');
      app.db.required();
      const since = q.since ? Date.parse(q.since) : undefined;
      const until = q.until ? Date.parse(q.until) : undefined;
      const filter: SearchFilter = {
        ...(q.category ? { category: q.category } : {}),
        ...(q.source ? { source: q.source } : {}),
        ...(q.story ? { storyId: q.story } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
      };
      // A flip between reading the serving generation and reading the rows would pair generation
      // N's vectors with N+1's rows: the row read re-reads the serving generation in the same
      // statement, and the search runs again (rarely: only across a flip) when it moved.
      // A search with a remembered serving state that fails because that state is gone (its
      // generation dropped, its model swapped) runs again with the state read afresh.
      let fresh = false;
      for (let attempt = 1; ; attempt++) {
        const { serving: used, cached } = await serving(fresh);
        const { model, generation, pinned } = used;
        let vector: Float32Array;
        try {
          vector = await embedder.embed(q.q, model);
        } catch (e) {
          // a remembered model may have been swapped out since: try again only when another serves now
          if (cached && attempt < 3 && (await serving(true)).serving.model !== model) {
            fresh = true;
            continue;
          }
          req.log.error({ err: e }, 'embedding the query failed');
          throw errors.unavailable('the embedder is unavailable; retry shortly');
        }

        const window = q.offset + q.limit;
        let ranked: {
          itemId: string;
          score: number;
          vectorScore: number | null;
          vectorRank: number | null;
          textRank: number | null;
        }[];
        let hits: SearchHit[];
        try {
          hits = await index.search(generation ?? app.vectorIndex.alias, vector, {
            limit: q.mode === 'hybrid' ? Math.min(500, Math.max(50, window * 3)) : q.limit,
            offset: q.mode === 'hybrid' ? 0 : q.offset,
            filter,
          });
        } catch (e) {
          // a remembered generation may have been flipped away and dropped since
          if (cached && attempt < 3 && (await serving(true)).serving.generation !== generation) {
            fresh = true;
            continue;
          }
          if ((e as Error)?.name === 'IndexUsageError') {
            req.log.warn({ err: (e as Error).message }, 'no serving index generation');
            throw errors.unavailable(`nothing is indexed yet: the ${app.vectorIndex.alias} alias names no generation`);
          }
          req.log.error({ err: e }, 'vector index search failed');
          throw errors.unavailable('the vector index is unavailable; retry shortly');
        }
        if (q.mode === 'vector') {
          ranked = hits.map((h, i) => ({
            itemId: h.itemId,
            score: h.score,
            vectorScore: h.score,
            vectorRank: q.offset + i + 1,
            textRank: null,
          }));
        } else {
          const k = Math.min(500, Math.max(50, window * 3));
          const where: string[] = ['search_tsv @@ tsq'];
          const values: unknown[] = [q.q];
          const add = (sql: string, v: unknown) => {
            values.push(v);
            where.push(sql.replace('?', `$${values.length}`));
          };
          if (q.category) add('category = ?', q.category);
          if (q.source) add('source = ?', q.source);
          if (q.story) add('story_id = ?', q.story);
          if (q.since) add('published_at >= ?', q.since);
          if (q.until) add('published_at <= ?', q.until);
          const text = await query<{ item_id: string }>(
            app,
            // websearch syntax, but terms OR-ed (any term matches; ts_rank_cd ranks items with more terms first)
            `SELECT item_id FROM items, to_tsquery('simple', replace(websearch_to_tsquery('english', $1)::text, ' & ', ' | ')) tsq WHERE ${where.join(' AND ')}
           ORDER BY ts_rank_cd(search_tsv, tsq) DESC, item_id LIMIT ${k}`,
            values,
          );
          const fused = new Map<string, (typeof ranked)[number]>();
          hits.forEach((h, i) => {
            fused.set(h.itemId, {
              itemId: h.itemId,
              score: 1 / (rrfK + i + 1),
              vectorScore: h.score,
              vectorRank: i + 1,
              textRank: null,
            });
          });
          text.rows.forEach((r, i) => {
            const f = fused.get(r.item_id) ?? {
              itemId: r.item_id,
              score: 0,
              vectorScore: null,
              vectorRank: null,
              textRank: null,
            };
            f.score += 1 / (rrfK + i + 1);
            f.textRank = i + 1;
            fused.set(r.item_id, f);
          });
          ranked = [...fused.values()]
            .sort((a, b) => b.score - a.score || a.itemId.localeCompare(b.itemId))
            .slice(q.offset, window);
        }

        const joined = await query<{
          generation: number | null;
          model_name: string | null;
          rows: (Omit<ItemRow, 'published_at'> & { published_at: string | null })[];
        }>(app, joinSql, [ranked.map((r) => r.itemId)], 'feedlog-search-rows');
        const now = joined.rows[0];
        const nowGeneration = now?.generation ?? null;
        const nowModel = now?.model_name ?? opts.defaultModel;
        // what serves as of the row read: the next searches use it without reading it first
        confirmed = {
          serving:
            nowGeneration != null
              ? { model: nowModel, generation: nowGeneration, pinned: true }
              : { model: nowModel, generation: null, pinned: false },
          at: performance.now(),
        };
        const moved = nowModel !== model || (pinned || nowGeneration != null ? nowGeneration !== generation : false);
        if (moved && attempt < 3) {
          fresh = false;
          continue;
        }
        const rows: ItemRow[] = (joined.rows[0]?.rows ?? []).map((r) => ({
          ...r,
          published_at: r.published_at ? new Date(r.published_at) : null,
        }));
        const byId = new Map(rows.map((r) => [r.item_id, r]));
        const payloads = new Map(hits.map((h) => [h.itemId, h.payload]));
        const results = ranked.map((r, i) => {
          const row = byId.get(r.itemId);
          const p = payloads.get(r.itemId);
          const storyId = row?.story_id ?? p?.story_id ?? null;
          return {
            rank: q.offset + i + 1,
            score: r.score,
            vector_score: r.vectorScore,
            vector_rank: r.vectorRank,
            text_rank: r.textRank,
            item: row
              ? {
                  item_id: row.item_id,
                  title: row.title,
                  url: row.url,
                  source: row.source,
                  summary: row.summary,
                  published_at: iso(row.published_at),
                  category: row.category,
                  confidence: row.confidence,
                }
              : {
                  // indexed but not materialized yet: what the index payload knows
                  item_id: r.itemId,
                  title: p?.title ?? null,
                  url: p?.url ?? null,
                  source: p?.source ?? null,
                  summary: null,
                  published_at: p?.published_at != null ? new Date(p.published_at).toISOString() : null,
                  category: p?.category ?? null,
                  confidence: null,
                },
            story: storyId
              ? {
                  story_id: storyId,
                  size: row?.story_size != null ? Number(row.story_size) : null,
                  title: row?.story_title ?? null,
                }
              : null,
          };
        });
        app.metrics.searchSeconds.observe({ mode: q.mode }, (performance.now() - t0) / 1000);
        return { query: q.q, mode: q.mode, model, generation, limit: q.limit, offset: q.offset, results };
      }
    },
  );
};
