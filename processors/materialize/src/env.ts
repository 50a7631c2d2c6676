import { defineEnv, envVar } from '@feedlog/common/define-env';
import { commonEnv } from '@feedlog/common/env';
import { bool, int, oneOf, str } from '@feedlog/common/env-parsers';

/** The materializer process (topics → PostgreSQL, exactly-once). */
export const materializeEnv = defineEnv('@feedlog/materialize', {
  MATERIALIZE_GROUP: {
    schema: str().optional(),
    default: 'feedlog.materialize.g1',
    doc: 'Consumer group of the materializer.',
  },
  MATERIALIZE_CONCURRENCY: {
    schema: int({ min: 1 }).default(3),
    doc: 'PostgreSQL transactions the materializer runs at once.',
  },
  MATERIALIZE_SESSION_TIMEOUT_MS: {
    schema: int({ min: 1 }).default(10_000),
    doc: 'Consumer group session timeout of the materializer.',
  },
  MATERIALIZE_APP_NAME: {
    schema: str().default('feedlog-materialize'),
    doc: 'PostgreSQL application_name of the materializer connections.',
  },
  MATERIALIZE_MIGRATE: { schema: bool().default(true), doc: 'Apply pending migrations when the materializer starts.' },
  MATERIALIZE_MAX_BYTES_PER_PARTITION: {
    schema: int({ min: 1 }).optional(),
    default: '1 MiB',
    doc: 'Materializer fetch size per partition.',
  },
  MATERIALIZE_MAX_BATCH_RECORDS: {
    schema: int({ min: 1 }).optional(),
    default: '5000',
    doc: 'Records the materializer writes in one PostgreSQL transaction at most.',
  },
  MATERIALIZE_MODE: {
    schema: oneOf(['exactly-once', 'at-least-once']).default('exactly-once'),
    doc: 'at-least-once: offsets to the Kafka group only (a comparison; not for production).',
  },
  MATERIALIZE_QUIET: {
    schema: bool().default(false),
    doc: 'Log only life-cycle events of the materializer, not one line per batch.',
  },
  FEEDLOG_TOPIC_PREFIX: envVar(commonEnv, 'FEEDLOG_TOPIC_PREFIX'),
});
