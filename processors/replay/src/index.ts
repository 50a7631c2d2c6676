export { ReplayController, type ReplayControllerOptions, type StartReplay } from './controller.ts';
export { flipReplay } from './flip.ts';
export { type FromSpec, parseFrom } from './position.ts';
export { adoptAsStage, generationProcessNames, processName, stopStageProcesses } from './processes.ts';
export { servingSearchSql } from './serving.ts';
export { activeReplay, getReplay, listGenerations, listReplays } from './store.ts';
export * from './types.ts';
