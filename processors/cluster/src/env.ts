import { defineEnv } from '@feedlog/common/define-env';
import { bool, int } from '@feedlog/common/env-parsers';

export const clusterEnv = defineEnv('@feedlog/cluster', {
  CLUSTER_SEMANTIC: {
    schema: bool().default(true),
    doc: 'Cluster on meaning + words + time (asks the embedder, EMBEDDING_*/EMBED_* variables, for each batch); false: words only. A generation keeps the options its changelog was written with.',
  },
  CLUSTER_PIPELINE: {
    schema: bool().default(true),
    doc: 'Prepare the next batch while the previous transaction commits (false: one at a time).',
  },
  CLUSTER_LOOKAHEAD: {
    schema: int({ min: 0 }).default(2000),
    doc: 'Texts whose embeddings the stage may ask for ahead, as records are fetched (0: none, each batch asks for its own).',
  },
  CLUSTER_MAX_IDLE_MS: {
    schema: int({ min: 0 }).default(10_000),
    doc: 'How long the partition merge waits for unfetched records before going on.',
  },
  STAGE_MAX_RECORDS: {
    schema: int({ min: 1 }).default(2000),
    doc: 'Cluster stage batch bound in records (one instance holds every partition, so catch-up batches are large).',
  },
  STAGE_LINGER_MS: {
    schema: int({ min: 0 }).default(50),
    doc: 'Cluster stage batch linger bound (live-tail latency).',
  },
  STAGE_SESSION_TIMEOUT_MS: {
    schema: int({ min: 1 }).default(10_000),
    doc: 'Consumer group session timeout of the cluster stage.',
  },
});
