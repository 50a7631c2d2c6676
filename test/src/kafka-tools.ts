import { loadConfig } from '@feedlog/common';
import {
  ensureKafkaTools,
  type KafkaToolName,
  type KafkaToolResult,
  runKafkaTool,
} from '@feedlog/scripts/launch/kafka-tools';

let lib: string | undefined;

/**
 * Runs one of Kafka's own tools (of the configured broker version) against the test broker:
 * `--bootstrap-server` is added. The reference a feedlog figure must equal, in the same test.
 */
export async function kafkaTool(tool: KafkaToolName, args: string[]): Promise<KafkaToolResult> {
  const config = loadConfig();
  lib ??= ensureKafkaTools(config.cache, config.kafka.version);
  return runKafkaTool(lib, tool, ['--bootstrap-server', config.kafka.brokers.join(','), ...args]);
}
