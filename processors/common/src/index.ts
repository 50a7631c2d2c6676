export { ConfigError, type EnvName, envSpec, type FeedlogConfig, loadConfig, repoRoot } from './config.ts';
export { CsvFileError, parseCsvFile } from './csv.ts';
export { eventLoopResolutionMs, fetchMaxWaitOverride } from './idle.ts';
export { createKafka, type KafkaFactoryOptions } from './kafka.ts';
export { applyKafkajsIdleFix } from './kafkajs-idle.ts';
