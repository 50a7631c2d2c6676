import { defineEnv, envVar } from '@feedlog/common/define-env';
import { commonEnv } from '@feedlog/common/env';
import { bool, int, str } from '@feedlog/common/env-parsers';

/** The RSS/Atom poller process (its health and metrics ports are the process's, see @feedlog/telemetry). */
export const pollerEnv = defineEnv('@feedlog/poller', {
  POLLER_CONCURRENCY: { schema: int({ min: 1 }).default(8), doc: 'Feeds the poller fetches at once.' },
  POLLER_IDLE_MS: { schema: int({ min: 1 }).default(1_000), doc: 'Poller pause when no feed is due.' },
  POLLER_TIMEOUT_MS: { schema: int({ min: 1 }).default(20_000), doc: 'One feed fetch, headers to last byte.' },
  POLLER_MAX_BYTES: { schema: int({ min: 1 }).default(10 * 1024 * 1024), doc: 'Decoded feed body cap in bytes.' },
  POLLER_MAX_REDIRECTS: { schema: int({ min: 0 }).default(5), doc: 'Redirects the poller follows.' },
  POLLER_MIGRATE: { schema: bool().default(true), doc: 'Apply pending migrations when the poller starts.' },
  FEEDLOG_FEEDS_DIR: {
    schema: str().optional(),
    default: '../shared/data/feeds',
    doc: 'Saved real feeds for `feedlog feeds check` and the poller tests.',
  },
  FEEDLOG_TOPIC_PREFIX: envVar(commonEnv, 'FEEDLOG_TOPIC_PREFIX'),
});
