export * from './artifact.ts';
export * from './batch.ts';
export { DEFAULT_MODEL_OUT, registerClassifyCommands } from './cli.ts';
export * from './data.ts';
export * from './features.ts';
export * from './metrics.ts';
export * from './model.ts';
export * from './train.ts';
export * from './trainers.ts';
