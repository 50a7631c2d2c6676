-- feedlog 0002: materialized views behind the job and story endpoints.
-- Each has a UNIQUE index so it can be refreshed CONCURRENTLY (readers never wait).

-- Tunables the views read at refresh time.
CREATE TABLE settings (
  name  text PRIMARY KEY,
  value text NOT NULL
);
INSERT INTO settings (name, value) VALUES ('stuck_after', '5 minutes');

CREATE FUNCTION stage_rank(stage text) RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE stage WHEN 'ingest' THEN 0 WHEN 'classify' THEN 1 WHEN 'cluster' THEN 2
                    WHEN 'embed' THEN 3 WHEN 'index' THEN 4 END;

-- Per job: items seen per stage, records applied, failures by stage, items stuck in a stage
-- longer than settings.stuck_after, done ratio (indexed or failed / expected), finished_at.
CREATE MATERIALIZED VIEW job_progress AS
WITH per_item AS (
  SELECT job_id, item_id, max(stage_rank(stage)) AS reached, max(last_at) AS last_at
  FROM item_stages
  GROUP BY job_id, item_id
),
failed_items AS (
  SELECT DISTINCT job_id, item_id FROM stage_failures WHERE job_id IS NOT NULL AND item_id IS NOT NULL
),
stages AS (
  SELECT job_id,
         count(*) FILTER (WHERE stage = 'ingest')   AS ingested,
         count(*) FILTER (WHERE stage = 'classify') AS classified,
         count(*) FILTER (WHERE stage = 'cluster')  AS clustered,
         count(*) FILTER (WHERE stage = 'embed')    AS embedded,
         count(*) FILTER (WHERE stage = 'index')    AS indexed,
         sum(records)                               AS records,
         max(last_at)                               AS last_activity_at,
         max(last_at) FILTER (WHERE stage = 'index') AS last_indexed_at
  FROM item_stages
  GROUP BY job_id
),
items_per_job AS (
  SELECT p.job_id,
         count(*) AS items,
         count(*) FILTER (WHERE p.reached = 4 OR f.item_id IS NOT NULL) AS done_items,
         count(*) FILTER (
           WHERE p.reached < 4 AND f.item_id IS NULL
             AND p.last_at < now() - (SELECT value::interval FROM settings WHERE name = 'stuck_after')
         ) AS stuck,
         (array_agg(p.item_id ORDER BY p.last_at, p.item_id) FILTER (
           WHERE p.reached < 4 AND f.item_id IS NULL
             AND p.last_at < now() - (SELECT value::interval FROM settings WHERE name = 'stuck_after')
         ))[1:20] AS stuck_items
  FROM per_item p
  LEFT JOIN failed_items f USING (job_id, item_id)
  GROUP BY p.job_id
),
failures AS (
  SELECT job_id,
         sum(n) AS failures,
         jsonb_object_agg(stage, n ORDER BY stage) AS failures_by_stage,
         jsonb_object_agg(stage, classes ORDER BY stage) AS failure_classes,
         max(last_failed_at) AS last_failed_at
  FROM (
    SELECT job_id, stage, sum(k) AS n, max(failed_at) AS last_failed_at,
           jsonb_object_agg(error_class, k) AS classes
    FROM (
      SELECT job_id, stage, error ->> 'class' AS error_class, count(*) AS k, max(failed_at) AS failed_at
      FROM stage_failures WHERE job_id IS NOT NULL
      GROUP BY job_id, stage, error ->> 'class'
    ) by_class
    GROUP BY job_id, stage
  ) by_stage
  GROUP BY job_id
)
SELECT j.id AS job_id,
       j.kind,
       j.caller,
       j.status,
       j.created_at,
       j.expected_count,
       coalesce(s.ingested, 0)   AS ingested,
       coalesce(s.classified, 0) AS classified,
       coalesce(s.clustered, 0)  AS clustered,
       coalesce(s.embedded, 0)   AS embedded,
       coalesce(s.indexed, 0)    AS indexed,
       coalesce(s.records, 0)    AS records,
       coalesce(i.items, 0)      AS items,
       coalesce(f.failures, 0)   AS failures,
       coalesce(f.failures_by_stage, '{}'::jsonb) AS failures_by_stage,
       coalesce(f.failure_classes, '{}'::jsonb)   AS failure_classes,
       coalesce(i.stuck, 0)      AS stuck,
       coalesce(i.stuck_items, ARRAY[]::text[]) AS stuck_items,
       coalesce(i.done_items, 0) AS done_items,
       CASE WHEN greatest(j.expected_count, i.items, 0) = 0 THEN 0
            ELSE round(coalesce(i.done_items, 0)::numeric / greatest(j.expected_count, i.items), 4)
       END AS done_ratio,
       CASE WHEN coalesce(i.items, 0) > 0 AND i.done_items >= greatest(j.expected_count, i.items)
            THEN greatest(s.last_indexed_at, f.last_failed_at)
       END AS finished_at,
       s.last_activity_at,
       now() AS refreshed_at
FROM jobs j
LEFT JOIN stages s ON s.job_id = j.id
LEFT JOIN items_per_job i ON i.job_id = j.id
LEFT JOIN failures f ON f.job_id = j.id;
CREATE UNIQUE INDEX job_progress_job_id_uq ON job_progress (job_id);
CREATE INDEX job_progress_created_at_idx ON job_progress (created_at);

-- Per story: size, sources, first/last seen, representative headline (the earliest item,
-- ties by item id) and the majority category (ties: alphabetical).
CREATE MATERIALIZED VIEW story_summary AS
SELECT story_id,
       count(*) AS size,
       count(DISTINCT source) AS source_count,
       array_agg(DISTINCT source ORDER BY source) AS sources,
       min(coalesce(published_at, ingested_at)) AS first_seen,
       max(coalesce(published_at, ingested_at)) AS last_seen,
       (array_agg(item_id ORDER BY coalesce(published_at, ingested_at), item_id))[1] AS representative_item_id,
       (array_agg(title ORDER BY coalesce(published_at, ingested_at), item_id))[1] AS representative_title,
       (array_agg(url ORDER BY coalesce(published_at, ingested_at), item_id))[1] AS representative_url,
       mode() WITHIN GROUP (ORDER BY category) AS category,
       max(cluster_generation) AS generation
FROM items
WHERE story_id IS NOT NULL
GROUP BY story_id;
CREATE UNIQUE INDEX story_summary_story_id_uq ON story_summary (story_id);
CREATE INDEX story_summary_last_seen_idx ON story_summary (last_seen);
