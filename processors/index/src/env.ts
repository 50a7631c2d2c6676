import { defineEnv, envVar } from '@feedlog/common/define-env';
import { commonEnv } from '@feedlog/common/env';
import { bool, int, oneOf, str, url } from '@feedlog/common/env-parsers';
import { runtimeEnv } from '@feedlog/runtime/env';
import { DEFAULT_ALIAS } from './types.ts';

/** Where the vectors live: the index stage writes there, the API and replays read it. */
export const indexEnv = defineEnv('@feedlog/index', {
  INDEX_BACKEND: {
    schema: oneOf(['embedded', 'qdrant']).default('embedded'),
    doc: 'Vector index: embedded (files under INDEX_DIR) or qdrant (QDRANT_URL).',
  },
  INDEX_ENGINE: {
    schema: oneOf(['usearch', 'hnswlib']).default('usearch'),
    doc: 'ANN engine of the embedded index.',
  },
  INDEX_DIR: {
    schema: str().optional(),
    default: '<FEEDLOG_HOME>/index',
    doc: 'Directory of the embedded index.',
  },
  INDEX_SEARCH_EF: {
    // bench/search-ef.ts on 100k 384-d vectors: recall@10 0.956 at 128 vs 0.977 at 256 for two thirds of the CPU
    schema: int({ min: 1, max: 4096 }).default(128),
    doc: 'Candidate list (ef) of embedded-index searches; larger finds more true neighbours for more CPU (bench/RESULTS.md issue 14).',
  },
  INDEX_SEARCH_THREADS: {
    schema: int({ min: 1, max: 64 }).default(2),
    doc: 'Threads the API’s concurrent embedded-index searches walk the graph on, batched per event-loop turn (1: one by one on the event loop).',
  },
  INDEX_ALIAS: {
    schema: str().default(DEFAULT_ALIAS),
    doc: 'Alias that points at the serving index generation (searches read it, replays flip it).',
  },
  INDEX_SERVE_FIRST: {
    schema: bool().default(true),
    doc: 'On a fresh install, point INDEX_ALIAS at this generation once it has vectors (a replay sets false: it waits for the flip).',
  },
  QDRANT_URL: { schema: url().optional(), doc: 'Qdrant server (with INDEX_BACKEND=qdrant; the API uses it when set).' },
  QDRANT_API_KEY: { schema: str().optional(), secret: true, doc: 'Qdrant API key (never logged).' },
  STAGE_GENERATION: envVar(runtimeEnv, 'STAGE_GENERATION'),
  INPUT_GENERATION: envVar(runtimeEnv, 'INPUT_GENERATION'),
  FEEDLOG_TOPIC_PREFIX: envVar(commonEnv, 'FEEDLOG_TOPIC_PREFIX'),
});
