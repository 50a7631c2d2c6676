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
export { type ProduceOptions, produceInput, toRawHeadline } from './produce.ts';
export { countItems, jsonToItem, readItems, uciRowToItem } from './readers.ts';
export { type ColumnMap, parseColumnMap, readSource, type SourceRow } from './sources.ts';
export { itemProblems } from './validate.ts';
