export { ConfigError, type EnvName, envSpec, type FeedlogConfig, loadConfig, repoRoot } from './config.ts';
export { CsvFileError, parseCsvFile } from './csv.ts';
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
