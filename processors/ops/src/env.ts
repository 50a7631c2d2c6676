import { defineEnv, envVar } from '@feedlog/common/define-env';
import { commonEnv } from '@feedlog/common/env';

/** `feedlog tail` / `feedlog item`: which deployment's topics (see --prefix). */
export const opsEnv = defineEnv('@feedlog/ops', {
  FEEDLOG_TOPIC_PREFIX: envVar(commonEnv, 'FEEDLOG_TOPIC_PREFIX'),
});
