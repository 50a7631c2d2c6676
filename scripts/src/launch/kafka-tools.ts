import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkJava, ensureKafkaJars, TOOLS } from './maven.ts';

/**
 * Kafka's own command-line tools (`org.apache.kafka:kafka-tools` of the broker's version), run
 * from their jars: the reference feedlog's lag, offset-reset and throughput figures must equal.
 * The shell scripts of a Kafka distribution are thin wrappers over these main classes.
 */
export const KAFKA_TOOL_CLASSES = {
  'kafka-consumer-groups': 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand',
  'kafka-producer-perf-test': 'org.apache.kafka.tools.ProducerPerformance',
  'kafka-consumer-perf-test': 'org.apache.kafka.tools.ConsumerPerformance',
  'kafka-get-offsets': 'org.apache.kafka.tools.GetOffsetShell',
  'kafka-transactions': 'org.apache.kafka.tools.TransactionsCommand',
} as const;
export type KafkaToolName = keyof typeof KAFKA_TOOL_CLASSES;

export interface KafkaToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Fetches the tools once (cached beside the broker jars) and returns their classpath folder. */
export function ensureKafkaTools(cacheDir: string, version: string, log: (s: string) => void = () => {}): string {
  checkJava();
  return ensureKafkaJars(cacheDir, version, log, TOOLS);
}

/**
 * Runs one tool with `args` and resolves with its exit code and output (never rejects on a
 * non-zero exit: a refusal is an answer the caller compares). Asynchronous so a test's event loop
 * (and the consumers it holds in the group) keeps running while the JVM works.
 */
export function runKafkaTool(lib: string, tool: KafkaToolName, args: string[]): Promise<KafkaToolResult> {
  // The tools log through log4j 1 (reload4j), which reads only file URLs: without a config it
  // prints warnings into what callers parse.
  const config = join(dirname(lib), 'log4j-quiet.properties');
  if (!existsSync(config)) writeFileSync(config, 'log4j.rootLogger=OFF\n');
  const quiet = `-Dlog4j.configuration=file:${config}`;
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-Xmx256m', quiet, '-cp', join(lib, '*'), KAFKA_TOOL_CLASSES[tool], ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
