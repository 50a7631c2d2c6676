import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errors } from '../errors.ts';
import { query } from '../plugins/pg.ts';
import { ErrorBody } from '../schemas.ts';

const str = Type.Union([Type.String(), Type.Null()]);
const int = Type.Union([Type.Integer(), Type.Null()]);
const num = Type.Union([Type.Number(), Type.Null()]);

export const ItemDetail = Type.Object(
  {
    item_id: Type.String(),
    title: Type.String(),
    url: Type.String(),
    source: Type.String(),
    summary: str,
    published_at: str,
    job_id: str,
    classify: Type.Object({ category: str, confidence: num, model: str, model_version: str, generation: int }),
    cluster: Type.Object({ story_id: str, similarity: num, generation: int }),
    embed: Type.Object({ model: str, dimensions: int, generation: int }),
    index: Type.Object({ collection: str, generation: int }),
  },
  { $id: 'ItemDetail' },
);

interface Row {
  item_id: string;
  title: string;
  url: string;
  source: string;
  summary: string | null;
  published_at: Date | null;
  job_id: string | null;
  category: string | null;
  confidence: number | null;
  classify_model: string | null;
  classify_model_version: string | null;
  classify_generation: number | null;
  story_id: string | null;
  story_similarity: number | null;
  cluster_generation: number | null;
  embed_model: string | null;
  embed_dimensions: number | null;
  embed_generation: number | null;
  index_collection: string | null;
  index_generation: number | null;
}

/**
 * GET /v1/items/:id: one item as PostgreSQL holds it, every stage's result with the generation
 * that produced it. The materializer keeps each stage's serving generation only (a replay's
 * blocks are parked until its flip), so an item never shows one generation's category beside
 * another's before that generation serves.
 */
export const itemRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/items/:id',
    {
      schema: {
        tags: ['items'],
        summary: "An item and each stage's result, with the serving generation that produced it",
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 200: ItemDetail, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (req) => {
      app.db.required();
      const r = await query<Row>(
        app,
        `SELECT item_id, title, url, source, summary, published_at, job_id, category, confidence, classify_model,
                classify_model_version, classify_generation, story_id, story_similarity, cluster_generation,
                embed_model, embed_dimensions, embed_generation, index_collection, index_generation
         FROM items WHERE item_id = $1`,
        [req.params.id],
      );
      const x = r.rows[0];
      if (!x) throw errors.notFound(`no item ${req.params.id}`);
      return {
        item_id: x.item_id,
        title: x.title,
        url: x.url,
        source: x.source,
        summary: x.summary,
        published_at: x.published_at ? x.published_at.toISOString() : null,
        job_id: x.job_id,
        classify: {
          category: x.category,
          confidence: x.confidence,
          model: x.classify_model,
          model_version: x.classify_model_version,
          generation: x.classify_generation,
        },
        cluster: { story_id: x.story_id, similarity: x.story_similarity, generation: x.cluster_generation },
        embed: { model: x.embed_model, dimensions: x.embed_dimensions, generation: x.embed_generation },
        index: { collection: x.index_collection, generation: x.index_generation },
      };
    },
  );
};
