export { type ApplyOptions, type ApplyResult, applyTopics, readActualState } from './apply.ts';
export { registerTopicCommands } from './cli.ts';
export {
  type CleanupPolicy,
  declaredConfig,
  declareFeedlog,
  dlqName,
  type FeedlogDeclarations,
  type StageDeclaration,
  type StageName,
  stageNames,
  type TopicDeclaration,
  topicNames,
  type ValueRecord,
} from './declarations.ts';
export {
  type Action,
  type ActualState,
  type ActualTopic,
  type Drift,
  type DriftKind,
  effectiveReplication,
  planTopics,
  type ReplicationCap,
  type TopicPlan,
} from './plan.ts';
export { formatApplyReport, formatTopicList } from './report.ts';
