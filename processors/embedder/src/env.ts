import { defineEnv, envVar } from '@feedlog/common/define-env';
import { commonEnv } from '@feedlog/common/env';
import { bool, int, list, oneOf, str, url } from '@feedlog/common/env-parsers';
import { DEFAULT_MODEL, MAVEN_REPOSITORY, MODELS } from './models.ts';
import { DEFAULT_BUCKET_ROWS } from './onnx-model.ts';

/** The local OpenAI-compatible embedder `feedlog up` starts (its port is @feedlog/common's EMBEDDER_PORT). */
export const embedderEnv = defineEnv('@feedlog/embedder', {
  EMBEDDER_PORT: envVar(commonEnv, 'EMBEDDER_PORT'),
  EMBEDDER_HOST: { schema: str().default('127.0.0.1'), doc: 'Address the local embedder binds (loopback by default).' },
  EMBEDDER_MODELS: {
    schema: list({ pattern: /^.+$/, what: 'a model name' })
      .refine((names) => names.every((n) => n in MODELS), {
        message: `known models: ${Object.keys(MODELS).join(', ')}`,
      })
      .default(
        Object.values(MODELS)
          .filter((m) => m.servedByDefault)
          .map((m) => m.name),
      ),
    doc: 'Comma-separated models the local embedder loads (the bge models are opt-in: large first download).',
  },
  EMBEDDER_DEFAULT_MODEL: {
    schema: str()
      .refine((n) => n in MODELS, { message: `known models: ${Object.keys(MODELS).join(', ')}` })
      .default(DEFAULT_MODEL),
    doc: 'Model the local embedder answers with when a request names none it serves (loaded even if not in EMBEDDER_MODELS).',
  },
  EMBEDDER_SESSIONS: {
    schema: int({ min: 1 }).optional(),
    default: 'number of cores',
    doc: 'ONNX Runtime sessions per model (parallel batches).',
  },
  EMBEDDER_INTRA_OP_THREADS: {
    schema: int({ min: 1 }).optional(),
    default: 'cores / sessions, at least 1',
    doc: 'Threads each ONNX Runtime session uses inside one operator.',
  },
  EMBEDDER_INTER_OP_THREADS: {
    schema: int({ min: 1 }).default(1),
    doc: 'Threads ONNX Runtime uses across independent operators (this model gains nothing from more).',
  },
  EMBEDDER_GRAPH_OPTIMIZATION: {
    schema: oneOf(['disabled', 'basic', 'extended', 'all'] as const).default('all'),
    doc: 'ONNX Runtime graph optimisation level.',
  },
  EMBEDDER_EXECUTION_MODE: {
    schema: oneOf(['sequential', 'parallel'] as const).default('sequential'),
    doc: 'ONNX Runtime execution mode (parallel measured no faster for this model).',
  },
  EMBEDDER_ALLOW_SPINNING: {
    schema: bool().default(false),
    doc: 'Let ONNX Runtime threads spin between operators (costly on a shared machine).',
  },
  EMBEDDER_BUCKET_ROWS: {
    schema: int({ min: 0, max: 2048 }).default(DEFAULT_BUCKET_ROWS),
    doc: 'Rows of similar token length run together, each group padded to its own longest (0: one padded batch).',
  },
  EMBEDDER_MAX_BATCH: {
    schema: int({ min: 1, max: 2048 }).default(64),
    doc: 'Inputs the embedder batches into one model run.',
  },
  EMBEDDER_MAX_WAIT_MS: {
    schema: int({ min: 0, max: 1000 }).default(3),
    doc: 'How long the embedder waits to fill a model batch.',
  },
  EMBEDDER_MAVEN_REPOSITORY: {
    // a mirror with Maven's standard layout (an in-house repository manager); pip's own settings
    // (PIP_INDEX_URL) do the same for the wheel-sourced models
    schema: url().default(MAVEN_REPOSITORY),
    doc: 'Maven repository (standard layout) the jar-sourced models (bge) are downloaded from.',
  },
  EMBEDDER_REFERENCE_PYTHON: {
    schema: str().optional(),
    default: '$FEEDLOG_CACHE/reference-venv, then python3',
    doc: 'Python with onnxruntime, tokenizers and numpy for the reference checks (tests and benchmarks only).',
  },
  FEEDLOG_SHARED_DATA: {
    schema: str().optional(),
    default: '../shared/data',
    doc: 'Real data sets for tests and benchmarks (absent on some machines).',
  },
});
