// first: replaces two kafkajs modules in the require cache before kafkajs loads them
import './kafkajs-fast-produce.ts';
import { Kafka, type KafkaConfig, logLevel as KafkaLogLevel, type logCreator } from 'kafkajs';
import type { FeedlogConfig } from './config.ts';
import { applyKafkajsIdleFix } from './kafkajs-idle.ts';

const levels = {
  error: KafkaLogLevel.ERROR,
  warn: KafkaLogLevel.WARN,
  info: KafkaLogLevel.WARN, // kafkajs' INFO is a line per group join; feedlog reports those as events instead
  debug: KafkaLogLevel.DEBUG,
} as const;

export interface KafkaFactoryOptions {
  clientId?: string;
  brokers?: string[];
  overrides?: Partial<KafkaConfig>;
}

// kafkajs logs every retried protocol error (a coordinator still loading, a leader moving) at
// ERROR from the connection layer although the client retries it; those surface, if they
// persist, as a thrown KafkaJSError. Only the rest reaches stderr.
const quietRetriable: logCreator =
  (level) =>
  ({ namespace, level: entryLevel, log }) => {
    if (entryLevel > level) return;
    if (namespace === 'Connection' && entryLevel === KafkaLogLevel.ERROR && level < KafkaLogLevel.DEBUG) return;
    const { message, ...extra } = log;
    // Retries are bounded on purpose (a dead cluster must surface as an error, not a hang);
    // the idempotent producer still de-duplicates every retry it does make.
    if (message.startsWith('Limiting retries for the idempotent producer')) return;
    process.stderr.write(`kafkajs ${namespace}: ${message} ${JSON.stringify(extra)}\n`);
  };

// The default-partitioner notice is about kafkajs 1.x → 2.x migration; feedlog started on 2.x.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

/** The one place a kafkajs client is built, so retry and logging policy stay uniform. */
export function createKafka(config: FeedlogConfig, opts: KafkaFactoryOptions = {}): Kafka {
  // idle connections must not spin (see kafkajs-idle.ts)
  applyKafkajsIdleFix();
  return new Kafka({
    clientId: opts.clientId ?? config.kafka.clientId,
    brokers: opts.brokers ?? config.kafka.brokers,
    logLevel: levels[config.logLevel],
    logCreator: quietRetriable,
    retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 5_000 },
    connectionTimeout: 3_000,
    ...opts.overrides,
  });
}
