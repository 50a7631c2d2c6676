import { Kafka, type KafkaConfig, logLevel as KafkaLogLevel } from 'kafkajs';
import type { FeedlogConfig } from './config.ts';

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

/** The one place a kafkajs client is built, so retry and logging policy stay uniform. */
export function createKafka(config: FeedlogConfig, opts: KafkaFactoryOptions = {}): Kafka {
  return new Kafka({
    clientId: opts.clientId ?? config.kafka.clientId,
    brokers: opts.brokers ?? config.kafka.brokers,
    logLevel: levels[config.logLevel],
    retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 5_000 },
    connectionTimeout: 3_000,
    ...opts.overrides,
  });
}
