import { defineEnv } from '@feedlog/common/define-env';
import { int, oneOf } from '@feedlog/common/env-parsers';

/** @platformatic/kafka 2.x runs on Node >= 22 only: why `client` cannot run on `node`, or undefined */
export function clientNodeIssue(client: string, node = process.versions.node): string | undefined {
  if (client !== 'platformatic' || Number(node.split('.')[0]) >= 22) return undefined;
  return `platformatic (@platformatic/kafka 2.x) needs Node >= 22; this is Node ${node}`;
}

/** What every stage process is told about its place among generations (see replay). */
export const runtimeEnv = defineEnv('@feedlog/runtime', {
  STAGE_GENERATION: {
    schema: int({ min: 0 }).default(1),
    doc: 'Generation of this stage: consumer group feedlog.<stage>.g<N>, outputs tagged with it (a replay starts N+1).',
  },
  INPUT_GENERATION: {
    schema: int({ min: 0 }).optional(),
    default: 'every record',
    doc: 'Read only the records of this upstream generation (a replay sets it; shared topics hold every generation).',
  },
  STAGE_BACKPRESSURE_BLOCK_MS: {
    schema: int({ min: 0 }).optional(),
    default: "the stage's config (1000)",
    doc: 'A full partition buffer holds the consumer this long before the partition is paused; 0: pause at once (the loop before issue 14, slower under load).',
  },
  FEEDLOG_KAFKA_CLIENT: {
    schema: oneOf(['kafkajs', 'platformatic'])
      .refine((c) => clientNodeIssue(c) === undefined, {
        message: clientNodeIssue('platformatic', process.versions.node),
      })
      .default('kafkajs'),
    doc: "Kafka client of the stage runtime: kafkajs | platformatic (@platformatic/kafka 2.x, Node >= 22; see processors/runtime's README).",
  },
  STAGE_BATCH_MAX_BYTES: {
    schema: int({ min: 1 }).optional(),
    default: "the stage's config (1048576)",
    doc: 'A transaction is cut at this many bytes of input (keys + values + 64 B a record), or at STAGE_BATCH_MAX_RECORDS, or after the linger, whichever first.',
  },
  STAGE_BATCH_MAX_RECORDS: {
    schema: int({ min: 1 }).optional(),
    default: "the stage's config (10000)",
    doc: 'Cap on the records of one transaction (cut by bytes first, STAGE_BATCH_MAX_BYTES).',
  },
});
