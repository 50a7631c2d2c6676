import type { RecordResult, Stage, StageRecord, StageRun } from './define-stage.ts';
import { runtimeEnv } from './env.ts';

/**
 * Generations share the stage topics (see the README, "Replay"): generation N+1 of a stage writes
 * to the same `classified`/`clustered`/`embedded` topic as generation N, every record tagged with
 * the generation in its StageRun block. A downstream stage generation therefore reads only the
 * records of the upstream generation it was started for and passes over the rest (they are the
 * other generation's, read by that generation's own group).
 *
 * Returns `stage` with a transform that hands the inner transform only the records whose upstream
 * run (`runOf`) has `inputGeneration`; the others come out as null (filtered: offsets still move).
 * `inputGeneration` undefined keeps the stage as it is (every record).
 */
export function onlyInputGeneration<I, O>(
  stage: Stage<I, O>,
  inputGeneration: number | undefined,
  runOf: (value: I) => Pick<StageRun, 'generation'> | null | undefined,
): Stage<I, O> {
  if (inputGeneration === undefined) return stage;
  const inner = stage.transform;
  return {
    ...stage,
    async transform(batch, ctx) {
      const keep: StageRecord<I>[] = [];
      const at: number[] = [];
      for (const [i, r] of batch.entries()) {
        if (runOf(r.value)?.generation === inputGeneration) {
          keep.push(r);
          at.push(i);
        }
      }
      const out: RecordResult<O>[] = new Array(batch.length).fill(null);
      if (keep.length === 0) return out;
      const res = await inner(keep, ctx);
      for (const [j, i] of at.entries()) out[i] = res[j] ?? null;
      return out;
    },
  };
}

/** INPUT_GENERATION from the environment: the upstream generation a replayed stage reads (unset: every record). */
export function inputGenerationFromEnv(env?: NodeJS.ProcessEnv): number | undefined {
  return runtimeEnv.parse(env).INPUT_GENERATION;
}
