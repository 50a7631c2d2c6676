-- Embedding cache: one row per (embedding model identity, text embedded), shared by every process
-- that embeds (the embed stage of every generation, later the cluster stage and API search), so a
-- replay whose embedding model did not change re-embeds nothing.
--   key           sha256(model identity || 0x00 || text): fixed 32 bytes whatever the text length
--   model         the model identity hashed into the key (name|version|dimensions), for gc per model
--   served_model  the model the endpoint said it ran (run.model_version on a hit, as on the miss)
--   vector        float32 little-endian, dims × 4 bytes (1,536 at 384-d: stays inline, no TOAST)
--   used_at       last read or write, refreshed at most hourly: eviction takes the oldest first
CREATE TABLE embedding_cache (
  key bytea PRIMARY KEY CHECK (octet_length(key) = 32),
  model text NOT NULL,
  served_model text NOT NULL,
  dims integer NOT NULL CHECK (dims > 0),
  normalized boolean NOT NULL,
  vector bytea NOT NULL CHECK (octet_length(vector) = dims * 4),
  created_at timestamptz NOT NULL DEFAULT now(),
  used_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX embedding_cache_used_at ON embedding_cache (used_at);
CREATE INDEX embedding_cache_model ON embedding_cache (model);
