import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errors } from '../errors.ts';
import { query } from '../plugins/pg.ts';
import { ErrorBody, StoriesQuery, StoryDetail, StoryList, StoryParams } from '../schemas.ts';

interface StoryRow {
  story_id: string;
  size: string | number;
  source_count: string | number;
  sources: string[];
  first_seen: Date | null;
  last_seen: Date | null;
  representative_item_id: string | null;
  representative_title: string | null;
  representative_url: string | null;
  category: string | null;
  generation: number | null;
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

function storyView(r: StoryRow) {
  return {
    story_id: r.story_id,
    size: Number(r.size),
    source_count: Number(r.source_count),
    sources: r.sources,
    first_seen: iso(r.first_seen),
    last_seen: iso(r.last_seen),
    representative: { item_id: r.representative_item_id, title: r.representative_title, url: r.representative_url },
    category: r.category,
    generation: r.generation,
  };
}

const STORY_ITEMS = 200;

export const storiesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/stories/:id',
    {
      schema: {
        tags: ['stories'],
        summary: 'A story (story_summary) and its items, earliest first',
        params: StoryParams,
        response: { 200: StoryDetail, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (req) => {
      const r = await query<StoryRow>(app, 'SELECT * FROM story_summary WHERE story_id = $1', [req.params.id]);
      const row = r.rows[0];
      if (!row) throw errors.notFound(`no story ${req.params.id}`);
      const items = await query<{
        item_id: string;
        title: string;
        url: string;
        source: string;
        category: string | null;
        published_at: Date | null;
      }>(
        app,
        `SELECT item_id, title, url, source, category, published_at FROM items WHERE story_id = $1
         ORDER BY coalesce(published_at, ingested_at), item_id LIMIT ${STORY_ITEMS}`,
        [req.params.id],
      );
      return {
        ...storyView(row),
        items: items.rows.map((i) => ({ ...i, published_at: iso(i.published_at) })),
        items_truncated: Number(row.size) > items.rows.length,
      };
    },
  );

  app.get(
    '/stories',
    {
      schema: {
        tags: ['stories'],
        summary: 'Stories last seen since a time, most recent first',
        querystring: StoriesQuery,
        response: { 200: StoryList, 400: ErrorBody, 503: ErrorBody },
      },
    },
    async (req) => {
      const values: unknown[] = [];
      let where = '';
      if (req.query.since) {
        values.push(req.query.since);
        where = 'WHERE last_seen >= $1';
      }
      values.push(req.query.limit, req.query.offset);
      const r = await query<StoryRow>(
        app,
        `SELECT * FROM story_summary ${where} ORDER BY last_seen DESC NULLS LAST, story_id
         LIMIT $${values.length - 1} OFFSET $${values.length}`,
        values,
      );
      return { stories: r.rows.map(storyView), limit: req.query.limit, offset: req.query.offset };
    },
  );
};
