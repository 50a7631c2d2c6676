export { applyParkedSql, type BlockStage, parkUnserved } from './generations.ts';
export {
  defaultGroupId,
  GENERATION,
  type MaterializerEvent,
  type MaterializerOptions,
  type MaterializerStats,
  MissingTopicsError,
  materializedTopics,
  type RunningMaterializer,
  STAGE,
  startMaterializer,
} from './materializer.ts';
export { type AppliedBatch, PgOffsetStore, type PgStoreOptions } from './pg-store.ts';
export {
  type FailureRow,
  failureFromDeadLetter,
  foldBatch,
  type ItemRow,
  type ItemStage,
  newer,
  type StageRecord,
  type StepRow,
} from './rows.ts';
export { type Materialized, materializeStage } from './stage.ts';
export { readStoredOffsets, StaleOffsetError, upsertItemsSql, writeBatch } from './store.ts';
