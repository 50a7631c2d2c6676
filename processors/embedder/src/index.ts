export {
  ApiError,
  buildEmbedderApp,
  type EmbedderApp,
  type EmbedderAppOptions,
  MAX_INPUTS,
  parseInput,
  toBase64,
} from './app.ts';
export { type BatcherOptions, type BatcherStats, DynamicBatcher, QueueFullError } from './batcher.ts';
export { defaultModelCache, type EnsureModelOptions, ensureModel, ModelFetchError, type ModelFiles } from './fetch.ts';
export { DEFAULT_MODEL, MODELS, type ModelSpec, modelSpec, type WheelSource } from './models.ts';
export { loadModels } from './models-load.ts';
export {
  DEFAULT_BUCKET_ROWS,
  type ExecutionMode,
  type GraphOptimizationLevel,
  type OnnxModelOptions,
  OnnxSentenceModel,
  type SentenceModel,
} from './onnx-model.ts';
export { type TokenIds, WordPieceTokenizer } from './tokenizer.ts';
