// first: replaces two kafkajs modules in the require cache before kafkajs loads them
import './kafkajs-fast-produce.ts';

export { ConfigError, type FeedlogConfig, loadConfig, repoRoot } from './config.ts';
export { CsvFileError, parseCsvFile } from './csv.ts';
export {
  defineEnv,
  deprecatedEnvChannel,
  type EnvIssue,
  type EnvSchema,
  type EnvVar,
  type EnvVarSpec,
  envVar,
  readEnvVar,
} from './define-env.ts';
export { commonEnv } from './env.ts';
export {
  type ComposedEnv,
  composeEnv,
  currentValue,
  DOCS_BEGIN,
  DOCS_END,
  type EnvEntry,
  envMarkdown,
  replaceDocsSection,
} from './env-compose.ts';
export * as envParsers from './env-parsers.ts';
export {
  type ErrorCode,
  type ErrorCodeSpec,
  errorCodeOf,
  errorCodes,
  errorCodesMarkdown,
  FeedlogError,
  findErrorBy,
  isErrorCode,
  isRetriable,
} from './errors.ts';
export { eventLoopResolutionMs, fetchMaxWaitOverride } from './idle.ts';
export { type EncodedRecord, type IngestSink, KafkaIngestSink } from './ingest-sink.ts';
export { createKafka, type KafkaFactoryOptions } from './kafka.ts';
export { applyKafkajsIdleFix } from './kafkajs-idle.ts';
