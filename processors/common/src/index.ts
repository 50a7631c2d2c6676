export { ConfigError, type EnvName, envSpec, type FeedlogConfig, loadConfig, repoRoot } from './config.ts';
export { createKafka, type KafkaFactoryOptions } from './kafka.ts';
