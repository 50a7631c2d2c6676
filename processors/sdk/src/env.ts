import { defineEnv, envVar } from '@feedlog/common/define-env';
import { commonEnv } from '@feedlog/common/env';
import { str, url } from '@feedlog/common/env-parsers';

/** `feedlog produce` and the SDK client: where the API is and the key to call it with. */
export const sdkEnv = defineEnv('@feedlog/sdk', {
  FEEDLOG_API_URL: {
    schema: url().optional(),
    default: 'http://127.0.0.1:${API_PORT}',
    doc: 'API that `feedlog produce` pushes to (without --direct).',
  },
  FEEDLOG_API_KEY: { schema: str().optional(), secret: true, doc: 'API key `feedlog produce` sends (never printed).' },
  API_PORT: envVar(commonEnv, 'API_PORT'),
  FEEDLOG_TOPIC_PREFIX: envVar(commonEnv, 'FEEDLOG_TOPIC_PREFIX'),
});
