export { Collection, EmbeddedIndex, type EmbeddedIndexOptions } from './embedded.ts';
export {
  type AnnEngine,
  createEngine,
  defaultEngineParams,
  type EngineKind,
  type EngineParams,
  engineAvailable,
} from './engines.ts';
export { clusteredVectors, exactTopK, gaussian, normalize, rng } from './synthetic.ts';
export * from './types.ts';
