import type { Admin } from 'kafkajs';
import type { GenerationRow, ReplayProgress, StageName, StageProgress } from './types.ts';

export interface ProgressInput {
  stage: StageName;
  topic: string;
  generation: GenerationRow;
  pids: number[];
}

/**
 * One sample of a replay's groups, from Kafka's own bookkeeping (committed offsets of the new
 * group, log end offsets of its input): records done since the start position, total, lag, rate
 * and ETA against the previous sample. A partition counts as caught up when its lag is within
 * `lagBound` (default 1: a stage's transactional output ends with a commit marker that occupies an
 * offset no consumer ever commits past). A stage is caught up only when the stage feeding it is.
 */
export async function sampleProgress(
  admin: Admin,
  inputs: ProgressInput[],
  previous: ReplayProgress | undefined,
  lagBound = 1,
): Promise<ReplayProgress> {
  const now = Date.now();
  const prevAt = previous?.at ? Date.parse(previous.at) : undefined;
  const stages: StageProgress[] = [];
  let upstreamCaught = true;
  for (const x of inputs) {
    const group = x.generation.consumerGroup ?? '';
    const start = new Map((x.generation.fromPosition?.partitions ?? []).map((p) => [p.partition, p.offset]));
    const [ends, committed] = await Promise.all([
      admin.fetchTopicOffsets(x.topic),
      admin.fetchOffsets({ groupId: group, topics: [x.topic] }),
    ]);
    const done = new Map(
      (committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)] as [number, number]),
    );
    let d = 0;
    let total = 0;
    let lag = 0;
    let caught = true;
    for (const e of ends) {
      const s = start.get(e.partition) ?? 0;
      const high = Number(e.high);
      const c = done.get(e.partition);
      const pos = c === undefined || c < 0 ? s : c;
      const l = Math.max(0, high - pos);
      d += Math.max(0, pos - s);
      total += Math.max(0, high - s);
      lag += l;
      if (l > lagBound) caught = false;
    }
    const prev = previous?.stages?.find((p) => p.stage === x.stage);
    const rate = prev && prevAt && now > prevAt ? Math.max(0, (d - prev.done) / ((now - prevAt) / 1000)) : null;
    const caughtUp: boolean = caught && upstreamCaught && x.pids.length > 0;
    upstreamCaught = caughtUp;
    stages.push({
      stage: x.stage,
      group,
      done: d,
      total,
      lag,
      rate: rate === null ? null : Math.round(rate * 10) / 10,
      etaSeconds: caughtUp ? 0 : rate && rate > 0 ? Math.round(lag / rate) : null,
      caughtUp,
      pids: x.pids,
    });
  }
  return { at: new Date(now).toISOString(), stages, caughtUp: stages.every((s) => s.caughtUp) };
}
