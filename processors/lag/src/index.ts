export { type GroupFilter, groupFilter, matches } from './collect.ts';
export { lagMetricNames, registerLagGauges } from './metrics.ts';
export { LagMonitor, type LagMonitorOptions } from './monitor.ts';
export {
  type GroupLag,
  type GroupMember,
  type LagReport,
  type LagStatus,
  type PartitionLag,
  statusCode,
} from './types.ts';
