import { defineEnv } from '@feedlog/common/define-env';
import { int, str } from '@feedlog/common/env-parsers';

export const classifyEnv = defineEnv('@feedlog/classify', {
  CLASSIFY_MODEL: {
    schema: str().optional(),
    default: 'the fixture-trained model',
    doc: 'Classifier artifact the classify stage loads (`feedlog train classify --out …`): n-gram `.flcm`, or fused `.flcf` (`--embeddings`; the stage then needs EMBEDDING_BASE_URL).',
  },
  CLASSIFY_WORKERS: {
    schema: int({ min: 0, max: 64 }).default(0),
    doc: "Worker threads that run an n-gram model off the consumer's thread (0: on it, measured faster on a 2-core machine that also runs the broker). A fused model always runs on the consumer's thread.",
  },
});
