import { topicNames } from '@feedlog/topics';

/** The replayable stages, in pipeline order. */
export const STAGES = ['classify', 'cluster', 'embed', 'index'] as const;
export type StageName = (typeof STAGES)[number];

export const isStage = (s: string): s is StageName => (STAGES as readonly string[]).includes(s);

/** A stage and every stage downstream of it: their input changes when it does. */
export function cascadeOf(stage: StageName): StageName[] {
  return STAGES.slice(STAGES.indexOf(stage));
}

/** The stage whose records a stage reads (classify reads raw-headlines, which has no generation). */
export function upstreamOf(stage: StageName): StageName | undefined {
  const i = STAGES.indexOf(stage);
  return i > 0 ? STAGES[i - 1] : undefined;
}

export const inputTopic: Record<StageName, string> = {
  classify: topicNames.raw,
  cluster: topicNames.classified,
  embed: topicNames.clustered,
  index: topicNames.embedded,
};

/** Entry point of each stage process, relative to the repository root (as the launcher starts them). */
export const stageEntry: Record<StageName, string> = {
  classify: 'processors/classify/src/main.ts',
  cluster: 'processors/cluster/src/main.ts',
  embed: 'processors/embed/src/main.ts',
  index: 'processors/index/src/main.ts',
};

/** The stage name a prefixed deployment gives a stage (classify/cluster/embed/index do the same). */
export const stageNameFor = (base: string, prefix: string): string =>
  prefix ? `${prefix.replace(/[^a-z0-9_.-]/gi, '-').replace(/^[^a-z]+/i, '')}${base}` : base;

export const groupFor = (stage: StageName, generation: number, prefix = ''): string =>
  `feedlog.${stageNameFor(stage, prefix)}.g${generation}`;

export type GenerationStatus = 'building' | 'caught-up' | 'serving' | 'retired' | 'aborted';
export type ReplayStatus = 'building' | 'caught-up' | 'serving' | 'aborted' | 'failed';

/** Where a new group starts: per partition of its input topic. */
export interface StartPosition {
  kind: 'earliest' | 'datetime' | 'offsets' | 'log-end';
  at?: string;
  file?: string;
  partitions: { partition: number; offset: number }[];
}

export interface GenerationRow {
  stage: StageName;
  generation: number;
  status: GenerationStatus;
  serving: boolean;
  model: string | null;
  consumerGroup: string | null;
  collection: string | null;
  inputGeneration: number | null;
  replayId: string | null;
  startedAt: string;
  servingSince: string | null;
  finishedAt: string | null;
  fromPosition: StartPosition | null;
  config: { env?: Record<string, string> };
}

export interface StageProgress {
  stage: StageName;
  group: string;
  /** records of the input read by the new group since its start position */
  done: number;
  /** records between the start position and the input's log end */
  total: number;
  lag: number;
  /** records/s since the previous sample; null on the first */
  rate: number | null;
  /** seconds to reach the log end at that rate; null when unknown */
  etaSeconds: number | null;
  caughtUp: boolean;
  /** PIDs of the stage's processes (none: not running) */
  pids: number[];
}

export interface ReplayProgress {
  at: string;
  stages: StageProgress[];
  caughtUp: boolean;
}

export interface ReplayRow {
  id: string;
  stage: StageName;
  stages: StageName[];
  generation: number;
  status: ReplayStatus;
  from: StartPosition;
  model: string | null;
  autoFlip: boolean;
  caughtUpSince: string | null;
  progress: ReplayProgress | Record<string, never>;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

/** A mistake of the caller (unknown stage, a replay already running…): a 4xx / a one-line CLI message. */
export class ReplayUsageError extends Error {
  override name = 'ReplayUsageError';
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 = 400,
  ) {
    super(message);
  }
}
