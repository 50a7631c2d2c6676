export { type AppOptions, buildApp } from './app.ts';
export {
  type ApiKey,
  type ApiKeyStore,
  generateApiKey,
  hashApiKey,
  MemoryApiKeyStore,
  PgApiKeyStore,
  type Scope,
} from './auth.ts';
export { registerApiCommands } from './cli.ts';
export { type ErrorBody, errors } from './errors.ts';
export { OpenAIEmbedder, type QueryEmbedder } from './plugins/embedder.ts';
export { type EncodedRecord, type IngestSink, KafkaIngestSink, MemorySink, type RawEncoder } from './plugins/kafka.ts';
export { type FeedItem, limits } from './schemas.ts';
export { serveApi, startServer } from './server.ts';
export { apiSettings, createServices, serdeEncoder } from './services.ts';
