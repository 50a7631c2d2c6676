export { type ProduceSummary, produceFile, registerProduceCommand } from './cli.ts';
export {
  type BatchReport,
  type FeedItemInput,
  FeedlogApiError,
  FeedlogClient,
  type FeedlogClientOptions,
  type ItemProblem,
  type ItemResult,
  type PushResult,
} from './client.ts';
export { countItems, jsonToItem, readItems, uciRowToItem } from './readers.ts';
