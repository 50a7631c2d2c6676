import { type Static, Type } from 'typebox';

/**
 * The request and response shapes of every route, as TypeBox (JSON Schema). They validate input
 * (ajv, see validation.ts), type the handlers (@fastify/type-provider-typebox) and generate the
 * OpenAPI document at /docs/json.
 */

// Control characters (C0, DEL, C1) and lone UTF-16 surrogates (a JSON "\ud800" escape) are
// refused in one-line fields; summaries may carry tab, LF and CR.
const oneLine = '^[^\\p{Cc}\\p{Cs}]*$';
const multiLine = '^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F\\p{Cs}]*$';

export const limits = {
  source: 512,
  url: 2048,
  title: 1000,
  guid: 1024,
  summary: 10_000,
} as const;

/** `string | null` as one JSON Schema type (one error per field instead of an anyOf pair). */
function nullable<T extends object>(schema: T) {
  return Type.Unsafe<string | null>({ ...schema, type: ['string', 'null'] });
}

export const FeedItem = Type.Object(
  {
    source: Type.String({
      minLength: 1,
      maxLength: limits.source,
      pattern: oneLine,
      description: 'Feed or source id (feed URL or a producer-chosen name). Part of the item id.',
    }),
    url: Type.String({
      minLength: 1,
      maxLength: limits.url,
      // Not format "uri" (RFC 3986): real feeds carry URLs browsers accept and RFC 3986 does not
      // (a backslash before the query in the UCI corpus); the WHATWG URL parser decides (validation.ts).
      pattern: '^[hH][tT][tT][pP][sS]?://[^\\s\\p{Cc}]+$',
      description:
        'Absolute http(s) URL of the item, as the WHATWG URL parser (browsers) accepts it. Part of the item id when guid is absent.',
    }),
    title: Type.String({ minLength: 1, maxLength: limits.title, pattern: oneLine, description: 'Headline text.' }),
    guid: Type.Optional(
      nullable({
        minLength: 1,
        maxLength: limits.guid,
        pattern: oneLine,
        description: "The feed's guid/id for the item. Part of the item id when present.",
      }),
    ),
    summary: Type.Optional(nullable({ maxLength: limits.summary, pattern: multiLine })),
    published_at: Type.Optional(
      nullable({
        format: 'date-time',
        maxLength: 40,
        description: 'RFC 3339 date-time with a zone, between 1970 and one day from now.',
      }),
    ),
  },
  { additionalProperties: false, $id: 'FeedItem' },
);
export type FeedItem = Static<typeof FeedItem>;

export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: 'stable snake_case code' }),
    message: Type.String(),
    details: Type.Unknown(),
  },
  { $id: 'Error' },
);

export const ItemProblem = Type.Object({
  index: Type.Union([Type.Integer(), Type.Null()], { description: 'position in `items`; null for the envelope' }),
  field: Type.Union([Type.String(), Type.Null()]),
  message: Type.String(),
});
export type ItemProblem = Static<typeof ItemProblem>;

export function itemsBody(maxBatch: number) {
  return Type.Object(
    { items: Type.Array(FeedItem, { minItems: 1, maxItems: maxBatch }) },
    { additionalProperties: false },
  );
}

export const ItemsQuery = Type.Object({
  partial: Type.Boolean({
    default: false,
    description: 'accept the valid items of a batch that has invalid ones (they are listed in `rejected`)',
  }),
});

export const ItemsAccepted = Type.Object({
  job_id: Type.String(),
  accepted: Type.Integer(),
  items: Type.Array(Type.Object({ index: Type.Integer(), item_id: Type.String() })),
  rejected: Type.Array(ItemProblem),
});

export const JobIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

const isoDate = Type.String({ format: 'date-time', maxLength: 40 });

export const JobsQuery = Type.Object({
  status: Type.Optional(
    Type.Union([
      Type.Literal('accepted'),
      Type.Literal('running'),
      Type.Literal('done'),
      Type.Literal('failed'),
      Type.Literal('cancelled'),
    ]),
  ),
  caller: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  since: Type.Optional(isoDate),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  offset: Type.Integer({ minimum: 0, maximum: 100_000, default: 0 }),
});

export const StoriesQuery = Type.Object({
  since: Type.Optional(isoDate),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  offset: Type.Integer({ minimum: 0, maximum: 100_000, default: 0 }),
});

export const StoryParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

export const SearchQuery = Type.Object({
  q: Type.String({ minLength: 1, maxLength: 1000, pattern: oneLine }),
  category: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  source: Type.Optional(Type.String({ minLength: 1, maxLength: limits.source })),
  story: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  since: Type.Optional(isoDate),
  until: Type.Optional(isoDate),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
  offset: Type.Integer({ minimum: 0, maximum: 1000, default: 0 }),
  mode: Type.Union([Type.Literal('vector'), Type.Literal('hybrid')], { default: 'vector' }),
});
export type SearchQuery = Static<typeof SearchQuery>;

const nullableString = Type.Union([Type.String(), Type.Null()]);
const nullableNumber = Type.Union([Type.Number(), Type.Null()]);
const counts = Type.Record(Type.String(), Type.Unknown());

export const Job = Type.Object(
  {
    job_id: Type.String(),
    kind: Type.String(),
    caller: nullableString,
    status: Type.String({ description: 'accepted | running | done | failed | cancelled' }),
    created_at: nullableString,
    expected: Type.Union([Type.Integer(), Type.Null()]),
    stages: Type.Object({
      ingest: Type.Integer(),
      classify: Type.Integer(),
      cluster: Type.Integer(),
      embed: Type.Integer(),
      index: Type.Integer(),
    }),
    items: Type.Integer(),
    records: Type.Integer(),
    failures: Type.Object({ total: Type.Integer(), by_stage: counts, by_error: counts }),
    stuck: Type.Object({ count: Type.Integer(), item_ids: Type.Array(Type.String()) }),
    done_items: Type.Integer(),
    done_ratio: Type.Number(),
    finished_at: nullableString,
    last_activity_at: nullableString,
    as_of: nullableString,
  },
  { $id: 'Job' },
);

export const JobList = Type.Object({ jobs: Type.Array(Job), limit: Type.Integer(), offset: Type.Integer() });

export const Story = Type.Object({
  story_id: Type.String(),
  size: Type.Integer(),
  source_count: Type.Integer(),
  sources: Type.Array(Type.String()),
  first_seen: nullableString,
  last_seen: nullableString,
  representative: Type.Object({ item_id: nullableString, title: nullableString, url: nullableString }),
  category: nullableString,
  generation: Type.Union([Type.Integer(), Type.Null()]),
});

export const StoryItem = Type.Object({
  item_id: Type.String(),
  title: Type.String(),
  url: Type.String(),
  source: Type.String(),
  category: nullableString,
  published_at: nullableString,
});

export const StoryDetail = Type.Intersect([
  Story,
  Type.Object({ items: Type.Array(StoryItem), items_truncated: Type.Boolean() }),
]);

export const StoryList = Type.Object({ stories: Type.Array(Story), limit: Type.Integer(), offset: Type.Integer() });

export const SearchResult = Type.Object({
  rank: Type.Integer(),
  score: Type.Number({ description: 'cosine similarity (vector) or the fused RRF score (hybrid)' }),
  vector_score: nullableNumber,
  vector_rank: Type.Union([Type.Integer(), Type.Null()]),
  text_rank: Type.Union([Type.Integer(), Type.Null()]),
  item: Type.Object({
    item_id: Type.String(),
    title: nullableString,
    url: nullableString,
    source: nullableString,
    summary: nullableString,
    published_at: nullableString,
    category: nullableString,
    confidence: nullableNumber,
  }),
  story: Type.Union([
    Type.Object({ story_id: Type.String(), size: Type.Union([Type.Integer(), Type.Null()]), title: nullableString }),
    Type.Null(),
  ]),
});

export const SearchResponse = Type.Object({
  query: Type.String(),
  mode: Type.String(),
  model: Type.String(),
  generation: Type.Union([Type.Integer(), Type.Null()]),
  limit: Type.Integer(),
  offset: Type.Integer(),
  results: Type.Array(SearchResult),
});
