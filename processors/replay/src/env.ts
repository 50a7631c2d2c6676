import { defineEnv, envVar } from '@feedlog/common/define-env';
import { commonEnv } from '@feedlog/common/env';
import { indexEnv } from '@feedlog/index/env';

/**
 * What `feedlog replay` reads: the deployment's prefix, the index it flips and the addresses it
 * hands the generation's processes (stored with the generation, so any controller restarts them alike).
 */
export const replayEnv = defineEnv('@feedlog/replay', {
  FEEDLOG_TOPIC_PREFIX: envVar(commonEnv, 'FEEDLOG_TOPIC_PREFIX'),
  EMBEDDING_MODEL: envVar(commonEnv, 'EMBEDDING_MODEL'),
  EMBEDDING_BASE_URL: envVar(commonEnv, 'EMBEDDING_BASE_URL'),
  INDEX_BACKEND: envVar(indexEnv, 'INDEX_BACKEND'),
  INDEX_ENGINE: envVar(indexEnv, 'INDEX_ENGINE'),
  INDEX_DIR: envVar(indexEnv, 'INDEX_DIR'),
  INDEX_ALIAS: envVar(indexEnv, 'INDEX_ALIAS'),
  QDRANT_URL: envVar(indexEnv, 'QDRANT_URL'),
});
