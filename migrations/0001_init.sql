-- feedlog 0001: the tables the materializer writes and the API reads.
-- Forward-only: never edit this file once applied anywhere; add 0002_… instead
-- (the runner refuses to run when an applied file's checksum changed).

-- One row per item id: the item's fields and, per stage, its latest result, the model that
-- produced it, the stage generation and when. A block is only replaced by one of the same or a
-- newer (generation, time), so a late record of an older generation never regresses a row.
CREATE TABLE items (
  item_id               text PRIMARY KEY,
  job_id                text,                 -- the ingest job of the newest raw-headlines record
  job_ingested_at       timestamptz,          -- that record's ingested_at (decides which job_id wins)
  source                text NOT NULL,
  guid                  text,
  url                   text NOT NULL,
  title                 text NOT NULL,
  summary               text,
  published_at          timestamptz,
  ingested_at           timestamptz NOT NULL,
  -- classify
  category              text,
  confidence            double precision,
  classify_model        text,
  classify_model_version text,
  classify_generation   integer,
  classified_at         timestamptz,
  -- cluster
  story_id              text,
  story_similarity      double precision,
  story_is_new          boolean,
  cluster_model         text,
  cluster_model_version text,
  cluster_generation    integer,
  clustered_at          timestamptz,
  -- embed (the vector itself lives in the vector index, not here)
  embed_model           text,
  embed_model_version   text,
  embed_dimensions      integer,
  embed_generation      integer,
  embedded_at           timestamptz,
  -- index
  index_collection      text,
  index_model           text,
  index_model_version   text,
  index_generation      integer,
  indexed_at            timestamptz,
  -- bookkeeping (wall clock of the database, not part of the item's content)
  first_materialized_at timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  -- keyword side of hybrid search
  search_tsv            tsvector GENERATED ALWAYS AS (
                          to_tsvector('english', coalesce(title, '') || ' ' || coalesce(summary, ''))
                        ) STORED
);
CREATE INDEX items_job_id_idx ON items (job_id);
CREATE INDEX items_story_id_idx ON items (story_id);
CREATE INDEX items_category_idx ON items (category);
CREATE INDEX items_source_idx ON items (source);
CREATE INDEX items_published_at_idx ON items (published_at);
CREATE INDEX items_search_tsv_idx ON items USING gin (search_tsv);

-- Jobs: an ingest batch (POST /v1/items) or a replay. The API creates the row; the materializer
-- creates it on first sight of an unknown job id (auto_created) so no record is ever orphaned.
CREATE TABLE jobs (
  id             text PRIMARY KEY,
  kind           text NOT NULL DEFAULT 'ingest' CHECK (kind IN ('ingest', 'replay')),
  caller         text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  expected_count integer CHECK (expected_count IS NULL OR expected_count >= 0),
  status         text NOT NULL DEFAULT 'running'
                   CHECK (status IN ('accepted', 'running', 'done', 'failed', 'cancelled')),
  auto_created   boolean NOT NULL DEFAULT false,
  details        jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX jobs_created_at_idx ON jobs (created_at);
CREATE INDEX jobs_caller_idx ON jobs (caller);

-- Which items each job brought through each stage (distinct items = progress), and how many
-- Kafka records that took (records counts every delivery the materializer applied: exactly once
-- per record, so a redelivered record never shows up here twice).
CREATE TABLE item_stages (
  job_id      text NOT NULL,
  stage       text NOT NULL CHECK (stage IN ('ingest', 'classify', 'cluster', 'embed', 'index')),
  item_id     text NOT NULL,
  generation  integer,
  records     integer NOT NULL DEFAULT 1,
  first_at    timestamptz NOT NULL,
  last_at     timestamptz NOT NULL,
  PRIMARY KEY (job_id, stage, item_id)
);
CREATE INDEX item_stages_item_idx ON item_stages (item_id);

-- Failures by stage: the stages' dead letters (<stage>.dlq) and the materializer's own.
CREATE TABLE stage_failures (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stage            text NOT NULL,
  item_id          text,
  job_id           text,
  source_topic     text NOT NULL,
  source_partition integer NOT NULL,
  source_offset    bigint NOT NULL,
  consumer_group   text,
  generation       integer,
  error            jsonb NOT NULL,   -- {class, message, retriable, attempts, stack}
  failed_at        timestamptz NOT NULL
);
-- One failure per stage, generation and source record: a dead letter delivered twice counts once.
CREATE UNIQUE INDEX stage_failures_source_uq
  ON stage_failures (stage, source_topic, source_partition, source_offset, generation) NULLS NOT DISTINCT;
CREATE INDEX stage_failures_job_idx ON stage_failures (job_id, stage);
CREATE INDEX stage_failures_item_idx ON stage_failures (item_id);

-- API keys: only a hash of the key is stored (sha256 hex, or an scrypt string "scrypt$…").
CREATE TABLE api_keys (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name                  text NOT NULL,
  key_hash              text NOT NULL UNIQUE,
  key_prefix            text,   -- first characters of the key, to recognise it in listings
  scopes                text[] NOT NULL DEFAULT ARRAY['read']::text[],
  rate_limit_per_minute integer NOT NULL DEFAULT 600 CHECK (rate_limit_per_minute > 0),
  created_at            timestamptz NOT NULL DEFAULT now(),
  revoked_at            timestamptz,
  last_used_at          timestamptz
);

-- Stage generations for replays: generation N+1 runs beside N until caught up, then serves.
CREATE TABLE generations (
  stage          text NOT NULL,
  generation     integer NOT NULL CHECK (generation >= 1),
  model_name     text,
  model_version  text,
  consumer_group text,
  collection     text,   -- vector collection for embed/index generations, e.g. headlines_g3
  job_id         text REFERENCES jobs (id),
  status         text NOT NULL DEFAULT 'registered'
                   CHECK (status IN ('registered', 'running', 'caught_up', 'serving', 'retired', 'failed')),
  started_at     timestamptz NOT NULL DEFAULT now(),
  caught_up      boolean NOT NULL DEFAULT false,
  caught_up_at   timestamptz,
  serving        boolean NOT NULL DEFAULT false,
  serving_since  timestamptz,
  PRIMARY KEY (stage, generation)
);
CREATE UNIQUE INDEX generations_one_serving_uq ON generations (stage) WHERE serving;

-- The materializer's Kafka positions, written in the same transaction as the rows they produced.
CREATE TABLE consumer_offsets (
  group_id    text NOT NULL,
  topic       text NOT NULL,
  partition   integer NOT NULL,
  next_offset bigint NOT NULL CHECK (next_offset >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition)
);
