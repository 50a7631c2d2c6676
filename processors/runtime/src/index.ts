// the one wire framing lives in @feedlog/schemas; re-exported for stage code and tests
export { readFrame, writeFrame } from '@feedlog/schemas';
export { singleMemberAssigner } from './assigner.ts';
export { Breaker, type BreakerOptions, type BreakerState } from './breaker.ts';
export {
  bytesCodec,
  type Codec,
  confluentJsonCodec,
  jsonCodec,
  type SchemaIds,
  staticSchemaIds,
  stringCodec,
} from './codec.ts';
export {
  type AssignedPartition,
  type BatchStageDefinition,
  type DeliveryMode,
  defaultStageConfig,
  defineStage,
  type Emit,
  type ExtraMessage,
  groupIdFor,
  type MapStageDefinition,
  type MergeOptions,
  type ModelRef,
  type RecordResult,
  type Stage,
  type StageConfig,
  type StageContext,
  type StageDefinitionInput,
  type StageInput,
  type StageRecord,
  type StageRun,
} from './define-stage.ts';
export {
  type DeadLetter,
  deadLetterJsonCodec,
  type OutMessage,
  type RawRecord,
  type TopicMessage,
} from './dlq.ts';
export { transactionalIdFor } from './eos.ts';
export {
  BreakerOpenError,
  DecodeError,
  EncodeError,
  isRetriable,
  PoisonRecordError,
  RetriableError,
  StageError,
  TransactionError,
} from './errors.ts';
export {
  type HealthServerOptions,
  type ServiceHealth,
  type StageHealth,
  type StageStatus,
  serveHealth,
} from './health.ts';
export { inputGenerationFromEnv, onlyInputGeneration } from './input-generation.ts';
export { type ChannelMessages, channelNames, publish, subscribe } from './instrumentation.ts';
export { type BatchResult, processBatch } from './process-batch.ts';
export { backoffSchedule, type RetryPolicy } from './retry.ts';
export { type RunningStage, type RunOptions, runStage } from './run-stage.ts';
export { onShutdown } from './shutdown.ts';
export type { OffsetStore, StoreBatch } from './store-sink.ts';
export { type DriverInput, type DriverResult, runInMemory } from './test-driver.ts';
export {
  type BatchSpan,
  childSpan,
  formatTraceparent,
  parseTraceparent,
  propagatingTracer,
  type SpanContext,
  type StageTracer,
} from './trace.ts';
