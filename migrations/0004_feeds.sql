-- Feed registry (issue 13): what the poller polls, when, and how the last polls went.
CREATE TABLE feeds (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  url                  text NOT NULL UNIQUE,
  name                 text NOT NULL,
  -- the source id in item ids (default: the URL's host), so feeds of one publisher share guids
  source               text NOT NULL,
  -- exactly one of an interval and a six-field cron expression (seconds first) in time_zone
  interval_seconds     integer CHECK (interval_seconds IS NULL OR interval_seconds >= 1),
  cron                 text,
  time_zone            text NOT NULL DEFAULT 'UTC',
  enabled              boolean NOT NULL DEFAULT true,
  etag                 text,
  last_modified        text,
  last_polled_at       timestamptz,
  last_success_at      timestamptz,
  last_status          integer,
  last_error           text,
  last_error_at        timestamptz,
  consecutive_failures integer NOT NULL DEFAULT 0,
  next_due_at          timestamptz NOT NULL DEFAULT now(),
  items_seen           bigint NOT NULL DEFAULT 0,
  polls                bigint NOT NULL DEFAULT 0,
  -- a poller holds a feed while it polls it (claimed FOR UPDATE SKIP LOCKED, released when done)
  lease_owner          text,
  lease_until          timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  CHECK ((interval_seconds IS NULL) <> (cron IS NULL))
);
CREATE INDEX feeds_due_idx ON feeds (next_due_at) WHERE enabled;

-- One row per poll; (feed_id, due_at) is unique, so a due poll can only ever be recorded once.
CREATE TABLE feed_polls (
  job_id       text PRIMARY KEY,
  feed_id      bigint NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
  due_at       timestamptz NOT NULL,
  poller       text NOT NULL,
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz NOT NULL DEFAULT now(),
  http_status  integer,
  outcome      text NOT NULL CHECK (outcome IN ('items', 'not_modified', 'retry_later', 'error')),
  items        integer NOT NULL DEFAULT 0,
  produced     integer NOT NULL DEFAULT 0,
  error        text,
  UNIQUE (feed_id, due_at)
);
CREATE INDEX feed_polls_feed_idx ON feed_polls (feed_id, started_at DESC);

-- Which items a feed has produced: a re-poll produces only what is new in the feed.
CREATE TABLE feed_items (
  feed_id       bigint NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
  item_id       text NOT NULL,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (feed_id, item_id)
);
