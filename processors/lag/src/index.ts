export type { GroupLag, GroupMember, LagReport, LagStatus, PartitionLag } from './types.ts';
