import { runStage, type Stage } from '@feedlog/runtime';
import { type ProcessContext, runProcess } from './process.ts';

/** A stage process: `build` returns the stage definition, the runtime runs it (see runProcess). */
export function runStageProcess<I, O>(
  name: string,
  build: (ctx: ProcessContext) => Promise<Stage<I, O>> | Stage<I, O>,
): void {
  runProcess(name, async (ctx) => {
    const stage = await build(ctx);
    const running = await runStage(stage, { clientId: `feedlog-${name}-g${ctx.generation}` });
    return {
      ...running,
      describe: () => ({
        groupId: running.groupId,
        input: stage.input.topics.join(','),
        output: stage.output?.topic ?? null,
        model: stage.model,
        ...(running.transactionalId ? { transactionalId: running.transactionalId } : {}),
      }),
    };
  });
}
