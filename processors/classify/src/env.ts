import { defineEnv } from '@feedlog/common/define-env';
import { str } from '@feedlog/common/env-parsers';

export const classifyEnv = defineEnv('@feedlog/classify', {
  CLASSIFY_MODEL: {
    schema: str().optional(),
    default: 'the fixture-trained model',
    doc: 'Classifier artifact the classify stage loads (`feedlog train classify --out …`): n-gram `.flcm`, or fused `.flcf` (`--embeddings`; the stage then needs EMBEDDING_BASE_URL).',
  },
});
