-- feedlog 0003: generations as data, and replays.
--
-- A stage generation goes building → caught-up → serving → retired (or building/caught-up →
-- aborted). `serving` stays the one flag readers key on (one serving generation per stage, the
-- partial unique index of 0001); `status` says where the generation is in its life.
ALTER TABLE generations DROP CONSTRAINT IF EXISTS generations_status_check;
UPDATE generations SET status = CASE status
  WHEN 'registered' THEN 'building'
  WHEN 'running' THEN 'building'
  WHEN 'caught_up' THEN 'caught-up'
  WHEN 'failed' THEN 'aborted'
  ELSE status END;
ALTER TABLE generations ALTER COLUMN status SET DEFAULT 'building';
ALTER TABLE generations ADD CONSTRAINT generations_status_check
  CHECK (status IN ('building', 'caught-up', 'serving', 'retired', 'aborted'));
ALTER TABLE generations
  -- where the generation's consumer group started: {"kind":"earliest"} | {"kind":"datetime","at":…} | {"kind":"offsets",…}
  ADD COLUMN from_position    jsonb,
  -- the generation of the upstream stage whose records this one reads (null: raw-headlines, no generation)
  ADD COLUMN input_generation integer,
  -- the start-up configuration of the generation's processes (model path, embedding model…)
  ADD COLUMN config           jsonb NOT NULL DEFAULT '{}'::jsonb,
  ADD COLUMN replay_id        text,
  ADD COLUMN finished_at      timestamptz;

-- One replay: the generations it builds (one per stage of the cascade) and where it stands.
-- The state machine lives here so any controller (the CLI in the foreground, the API) advances it
-- idempotently, and a restarted controller resumes from the row.
CREATE TABLE replays (
  id              text PRIMARY KEY,
  stage           text NOT NULL,                  -- the stage asked for (the first of the cascade)
  stages          text[] NOT NULL,                -- the stages rebuilt, in pipeline order
  generation      integer NOT NULL,               -- the new generation number of every stage in `stages`
  status          text NOT NULL DEFAULT 'building'
                    CHECK (status IN ('building', 'caught-up', 'serving', 'aborted', 'failed')),
  from_position   jsonb NOT NULL,
  model           text,
  auto_flip       boolean NOT NULL DEFAULT true,
  caught_up_since timestamptz,                    -- every new group within the lag bound since then
  progress        jsonb NOT NULL DEFAULT '{}'::jsonb,
  error           text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);
-- At most one replay in flight per deployment: two cascades would both want generation N+1.
CREATE UNIQUE INDEX replays_one_active_uq ON replays ((true)) WHERE status IN ('building', 'caught-up');

-- What a generation that does not serve yet says about an item: the materializer keeps `items`
-- to serving generations only and parks newer blocks here; the flip copies them into `items` in
-- the same transaction that moves `serving`, so a reader sees all of one generation or all of the
-- other. Rows of retired or aborted generations go with `feedlog gc`.
CREATE TABLE item_generation_blocks (
  item_id    text NOT NULL,
  stage      text NOT NULL CHECK (stage IN ('classify', 'cluster', 'embed', 'index')),
  generation integer NOT NULL,
  block      jsonb NOT NULL,
  at         timestamptz NOT NULL,
  PRIMARY KEY (stage, generation, item_id)
);
