/**
 * The cluster stage process: classified → clustered, exactly-once, state in the compacted
 * changelog topic feedlog.cluster.changelog (restored at start). One instance holds every input
 * partition; start a second one as a hot standby.
 *
 * Environment (besides the stage process's, see @feedlog/telemetry runStageProcess):
 *   INPUT_GENERATION  cluster only `classified` records of this classify generation (a replay sets it); default every record
 *   CLUSTER_MAX_IDLE_MS  how long the partition merge waits for unfetched records (default 10000)
 *   CLUSTER_PIPELINE=false  commit each batch before preparing the next (default: prepare while committing)
 *   CLUSTER_LOOKAHEAD  texts whose embeddings may be asked for ahead as records are fetched (default 2000; 0: none)
 *   STAGE_MAX_RECORDS / STAGE_LINGER_MS  batch bounds (default 2000 / 50: one instance does all partitions,
 *                     so larger catch-up batches amortise the transaction; the linger bounds live-tail latency)
 *   STAGE_SESSION_TIMEOUT_MS  consumer group session timeout (default 10000)
 *
 *   CLUSTER_SEMANTIC  1 (default): ask the embedder (EMBEDDING_* / EMBED_* variables, EMBED_CACHE) for each
 *                     batch's vectors and cluster on meaning + words + time decay (SEMANTIC_PRESET, chosen by
 *                     cross-validation grouped by story); false: words only. A generation keeps the options its
 *                     changelog was written with: switching needs a replay (the restore says so)
 *
 * Run: `node --import tsx processors/cluster/src/main.ts`
 */
import { inputGenerationFromEnv, onlyInputGeneration } from '@feedlog/runtime';
import { runStageProcess } from '@feedlog/telemetry';
import { openEmbedder, semanticStageOptions } from './embedder.ts';
import { clusterEnv } from './env.ts';
import { clusterStage } from './stage.ts';

const env = clusterEnv.parse();

runStageProcess('cluster', async ({ generation, prefix, telemetry, log }) => {
  const embedder = env.CLUSTER_SEMANTIC ? await openEmbedder({ log: (m) => log(m) }) : undefined;
  if (embedder) log('semantic clustering', { model: embedder.client.settings.model, cache: embedder.cache });
  const parts = clusterStage({
    ...(embedder ? semanticStageOptions(embedder.client) : {}),
    generation,
    prefix,
    config: {
      batch: { maxRecords: env.STAGE_MAX_RECORDS, lingerMs: env.STAGE_LINGER_MS },
      sessionTimeoutMs: env.STAGE_SESSION_TIMEOUT_MS,
    },
    maxIdleMs: env.CLUSTER_MAX_IDLE_MS,
    pipeline: env.CLUSTER_PIPELINE,
    lookahead: env.CLUSTER_LOOKAHEAD,
    log,
    ...(telemetry.tracer ? { tracer: telemetry.tracer } : {}),
  });
  // generations share the topics: a replayed generation reads only its upstream generation's records
  return onlyInputGeneration(parts.stage, inputGenerationFromEnv(), (v) => v.classification.run);
});
