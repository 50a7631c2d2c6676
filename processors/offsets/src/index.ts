export { type ApplyOptions, type ApplyResult, applyReset } from './apply.ts';
export { formatOffsetsCsv, parseOffsetsCsv } from './csv.ts';
export { EXIT, GroupActiveError, NoCommittedOffsetError, OffsetsMovedError, ResetUsageError } from './errors.ts';
export { createAdmin, describeGroup } from './kafka.ts';
export { parseDateTime, parseDuration, parseLong, parseTopicArg } from './parse.ts';
export { MATERIALIZER_GROUP, type PlanOptions, planReset, resolveStore } from './plan.ts';
export { clampToLog, planPartition, targetOffset } from './targets.ts';
export type * from './types.ts';
