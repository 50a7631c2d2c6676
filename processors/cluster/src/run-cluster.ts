import { type RunningStage, type RunOptions, runStage } from '@feedlog/runtime';
import type { ClusterStageParts } from './stage.ts';
import type { ClusterState } from './state.ts';

export { readChangelog } from './changelog.ts';
export { EVENT_TIME_HEADER } from './stage.ts';

export interface ClusterRunOptions extends RunOptions {
  /** overrides the stage's `merge.maxIdleMs` (how long the merge waits for an unfetched partition) */
  maxIdleMs?: number;
  /** overrides the stage's `merge.pipeline` */
  pipeline?: boolean;
}

export interface RunningCluster extends RunningStage {
  /** the live state (tests, metrics) */
  state(): ClusterState;
  /** what the last restore read */
  lastRestore(): { entries: number; ms: number } | undefined;
}

/** The cluster stage on the runtime (`runStage`), with its state in view. */
export async function runClusterStage(parts: ClusterStageParts, opts: ClusterRunOptions = {}): Promise<RunningCluster> {
  const { maxIdleMs, pipeline, ...run } = opts;
  const merge = parts.stage.merge && {
    ...parts.stage.merge,
    ...(maxIdleMs === undefined ? {} : { maxIdleMs }),
    ...(pipeline === undefined ? {} : { pipeline }),
  };
  const running = await runStage({ ...parts.stage, merge }, run);
  return Object.assign(running, { state: () => parts.holder.state, lastRestore: () => parts.holder.lastRestore });
}
