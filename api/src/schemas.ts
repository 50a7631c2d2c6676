import { type Static, type TSchema, Type } from 'typebox';

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

/**
 * A query parameter with a default: optional on the wire (absent from OpenAPI's `required`), but
 * always present for the handler because the validator fills the default in first.
 */
function defaulted<T extends TSchema>(schema: T): T {
  return Type.Optional(schema) as unknown as T;
}

/** Text PostgreSQL can hold and a log line can show: no control characters (NUL included), no lone surrogates. */
const idText = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: oneLine });

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
  partial: defaulted(
    Type.Boolean({
      default: false,
      description: 'accept the valid items of a batch that has invalid ones (they are listed in `rejected`)',
    }),
  ),
});

export const ItemsAccepted = Type.Object({
  job_id: Type.String(),
  accepted: Type.Integer(),
  items: Type.Array(Type.Object({ index: Type.Integer(), item_id: Type.String() })),
  distinct: Type.Integer({ description: 'distinct item ids produced (the job expects this many)' }),
  duplicates: Type.Array(Type.Object({ index: Type.Integer(), item_id: Type.String(), duplicate_of: Type.Integer() }), {
    description: 'items whose id repeats an earlier item of the batch; produced once',
  }),
  rejected: Type.Array(ItemProblem),
});

export const JobIdParams = Type.Object({ id: idText(200) });

// format date-time is validation.ts's: RFC 3339 restricted to what PostgreSQL's timestamptz and
// Date.parse both accept (years 0001-9999, offsets within ±15:59, no leap second)
const isoDate = Type.String({
  format: 'date-time',
  maxLength: 40,
  description: 'RFC 3339 date-time with an offset, year 0001-9999, offset within ±15:59, seconds 00-59',
});

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
  caller: Type.Optional(idText(200)),
  since: Type.Optional(isoDate),
  limit: defaulted(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  offset: defaulted(Type.Integer({ minimum: 0, maximum: 100_000, default: 0 })),
});

export const StoriesQuery = Type.Object({
  since: Type.Optional(isoDate),
  limit: defaulted(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  offset: defaulted(Type.Integer({ minimum: 0, maximum: 100_000, default: 0 })),
});

export const StoryParams = Type.Object({ id: idText(200) });

export const SearchQuery = Type.Object({
  q: Type.String({ minLength: 1, maxLength: 1000, pattern: oneLine }),
  category: Type.Optional(idText(100)),
  source: Type.Optional(idText(limits.source)),
  story: Type.Optional(idText(200)),
  since: Type.Optional(isoDate),
  until: Type.Optional(isoDate),
  limit: defaulted(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
  offset: defaulted(Type.Integer({ minimum: 0, maximum: 1000, default: 0 })),
  mode: defaulted(Type.Union([Type.Literal('vector'), Type.Literal('hybrid')], { default: 'vector' })),
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

const Check = Type.Object({
  ok: Type.Boolean(),
  latency_ms: Type.Union([Type.Number(), Type.Null()]),
  error: Type.Optional(Type.String()),
});
/** GET /readyz, 200 (ready or degraded) and 503 (a required component is down) alike. */
export const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('degraded'), Type.Literal('unavailable')]),
  components: Type.Record(Type.String(), Check),
});
export const Liveness = Type.Object({ status: Type.Literal('ok') });
