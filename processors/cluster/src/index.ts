export { DEFAULT_MINHASH, MinHashClusterer, type MinHashOptions } from './baseline.ts';
export {
  type ClusterEvalOptions,
  type ClusterEvalResult,
  formatClusterEval,
  registerClusterCommands,
  runClusterEval,
} from './cli.ts';
export { type CvConfig, type CvResult, crossValidate, foldsByStory, grid, runStream } from './cv.ts';
export { type LabeledHeadline, loadUciCsv, parseUciCsv } from './dataset.ts';
export { type Clusterer, type EvalReport, evaluateStream } from './evaluate.ts';
export { type ClusteringMetrics, evaluateClustering, type PRF } from './metrics.ts';
export { SEMANTIC_PRESET, semanticFromEnv } from './semantic.ts';
export {
  type Assignment,
  type ChangelogEntry,
  ChangelogOptionsError,
  type ClusterOptions,
  ClusterState,
  DEFAULT_OPTIONS,
  type HeadlineRecord,
  type IdfMode,
  MAX_SEGMENTS,
  SEGMENT_MAX_ITEMS,
  storyIdFor,
} from './state.ts';
export { features, tokenize } from './tokenize.ts';
