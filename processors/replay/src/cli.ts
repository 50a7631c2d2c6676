import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createKafka, loadConfig, repoRoot } from '@feedlog/common';
import type { VectorIndex } from '@feedlog/index';
import { indexFromEnv } from '@feedlog/index/main';
import { MultiBar, Presets } from 'cli-progress';
import Table from 'cli-table3';
import { type Command, Option } from 'commander';
import pg from 'pg';
import { ReplayController } from './controller.ts';
import { replayEnv } from './env.ts';
import { collectGarbage, parseAge } from './gc.ts';
import { parseFrom } from './position.ts';
import { activeReplay, getReplay, listGenerations, listReplays } from './store.ts';
import { isStage, type ReplayProgress, type ReplayRow, ReplayUsageError, STAGES } from './types.ts';

interface Ctx {
  controller: ReplayController;
  pool: pg.Pool;
  close(): Promise<void>;
}

function context(opts: { lagBound?: number; stableMs?: number } = {}): Ctx {
  const config = loadConfig();
  const env = replayEnv.parse();
  const pool = new pg.Pool({ connectionString: config.postgres.url, max: 4 });
  pool.on('error', () => undefined);
  let index: VectorIndex | undefined;
  const controller = new ReplayController({
    pool,
    kafka: createKafka(config, { clientId: 'feedlog-replay' }),
    home: config.home,
    root: repoRoot(),
    prefix: env.FEEDLOG_TOPIC_PREFIX,
    index: () => {
      index ??= indexFromEnv(undefined, true);
      return index;
    },
    alias: env.INDEX_ALIAS,
    // stored with the generation, so any controller restarts its processes against the same index
    // (keys and tokens are not: a process gets those from its own environment)
    env: Object.fromEntries(
      (['INDEX_BACKEND', 'INDEX_DIR', 'INDEX_ENGINE', 'QDRANT_URL', 'EMBEDDING_BASE_URL'] as const).flatMap((k) =>
        env[k] === undefined ? [] : [[k, env[k]]],
      ),
    ),
    currentModels: { embed: env.EMBEDDING_MODEL },
    ...(opts.lagBound !== undefined ? { lagBound: opts.lagBound } : {}),
    ...(opts.stableMs !== undefined ? { stableMs: opts.stableMs } : {}),
    log: (l) => process.stderr.write(`feedlog: ${l}\n`),
  });
  return {
    controller,
    pool,
    async close() {
      await controller.close();
      await index?.close();
      await pool.end();
    },
  };
}

function table(rows: Record<string, unknown>[], json: boolean | undefined): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const cols = rows[0] ? Object.keys(rows[0]) : [];
  const t = new Table({ head: cols, style: { head: [], border: [] } });
  for (const r of rows) t.push(cols.map((c) => (r[c] === null || r[c] === undefined ? '-' : String(r[c]))));
  process.stdout.write(`${t.toString()}\n`);
}

const summary = (r: ReplayRow) => ({
  id: r.id,
  stages: r.stages.join(' → '),
  generation: r.generation,
  status: r.status,
  from: r.from.kind === 'datetime' ? r.from.at : r.from.kind,
  model: r.model,
  flip: r.autoFlip ? 'auto' : 'promote',
  created_at: r.createdAt,
  finished_at: r.finishedAt,
});

/**
 * Advance the replay in the foreground with one progress bar per stage (records done of the
 * input since the start position, rate, ETA, lag). Ctrl-C stops following: the replay's processes
 * keep running in the background (`feedlog replay abort` stops them, `feedlog replay watch` follows again).
 */
async function follow(ctx: Ctx, id: string, json: boolean | undefined): Promise<ReplayRow> {
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  const bars =
    json || !process.stderr.isTTY
      ? undefined
      : new MultiBar(
          {
            format: ' {stage} |{bar}| {value}/{total} records | {rate}/s | ETA {eta_s} | lag {lag}',
            hideCursor: true,
            clearOnComplete: false,
          },
          Presets.shades_classic,
        );
  const byStage = new Map<string, ReturnType<MultiBar['create']>>();
  let lastLine = 0;
  try {
    const r = await ctx.controller.watch(id, {
      signal: ac.signal,
      onProgress: (row) => {
        const p = 'stages' in row.progress ? (row.progress as ReplayProgress) : undefined;
        for (const s of p?.stages ?? []) {
          const v = { stage: s.stage.padEnd(8), rate: s.rate ?? '-', eta_s: s.etaSeconds ?? '-', lag: s.lag };
          if (bars) {
            const b = byStage.get(s.stage) ?? bars.create(Math.max(1, s.total), 0, v);
            byStage.set(s.stage, b);
            b.setTotal(Math.max(1, s.total));
            b.update(s.done, v);
          } else if (!json && Date.now() - lastLine > 5_000) {
            process.stderr.write(
              `feedlog: ${s.stage} ${s.done}/${s.total} records, ${s.rate ?? '-'}/s, lag ${s.lag}\n`,
            );
          }
        }
        if (!bars && Date.now() - lastLine > 5_000) lastLine = Date.now();
      },
    });
    bars?.stop();
    if (ac.signal.aborted && (r.status === 'building' || r.status === 'caught-up')) {
      process.stderr.write(
        `feedlog: stopped following replay ${r.id}; it keeps running.\n  feedlog replay abort ${r.id}   stops it (serving stays as it is)\n  feedlog replay watch ${r.id}   follows it again\n`,
      );
      process.exitCode = 130;
    }
    return r;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** `feedlog replay …`, `feedlog generations [promote]`, `feedlog gc`. */
export function registerReplayCommands(program: Command): void {
  const handle = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      if (e instanceof ReplayUsageError) {
        process.stderr.write(`feedlog: error: ${e.message}\n`);
        process.exitCode = 2;
        return;
      }
      throw e;
    }
  };
  program
    .command('replay')
    .description(
      `run a stage again as generation N+1 beside the serving one, then flip: replay <${STAGES.join('|')}> | replay abort [id] | replay watch [id] | replay list`,
    )
    .argument('<stage>', `${STAGES.join(', ')}; or abort, watch, list`)
    .argument('[id]', 'replay id (abort/watch; default: the running one)')
    .option('--from <position>', 'earliest (default), an ISO date-time, or a topic,partition,offset file', 'earliest')
    .option('--model <name>', 'embed: the embedding model; classify: the model file (`feedlog train classify --out`)')
    .option('--no-flip', 'stop at caught-up; serve with `feedlog generations promote`')
    .option('--lag-bound <n>', 'caught up = lag at most n records per partition…', (v) => Number.parseInt(v, 10))
    .option('--stable-ms <ms>', '…for this long (default 3000)', (v) => Number.parseInt(v, 10))
    .addOption(new Option('--json', 'machine-readable output'))
    .action(
      async (
        stage: string,
        id: string | undefined,
        o: { from: string; model?: string; flip: boolean; json?: boolean; lagBound?: number; stableMs?: number },
      ) =>
        handle(async () => {
          const ctx = context(o);
          try {
            if (stage === 'list') return table((await listReplays(ctx.pool)).map(summary), o.json);
            if (stage === 'abort') return table([summary(await ctx.controller.abort(id))], o.json);
            if (stage === 'watch') {
              const r = id ? await getReplay(ctx.pool, id) : await activeReplay(ctx.pool);
              if (!r) throw new ReplayUsageError(id ? `no replay ${id}` : 'no replay is running', 404);
              return table([summary(await follow(ctx, r.id, o.json))], o.json);
            }
            if (!isStage(stage))
              throw new ReplayUsageError(`unknown stage ${stage}: one of ${STAGES.join(', ')}, or abort, watch, list`);
            const r = await ctx.controller.start({
              stage,
              from: parseFrom(o.from),
              // a classifier file is opened by the stage process (started in the repository): an absolute path
              ...(o.model ? { model: stage === 'classify' && existsSync(o.model) ? resolve(o.model) : o.model } : {}),
              noFlip: !o.flip,
            });
            process.stderr.write(`feedlog: replay ${r.id}: ${r.stages.join(' → ')} as generation ${r.generation}\n`);
            table([summary(await follow(ctx, r.id, o.json))], o.json);
          } finally {
            await ctx.close();
          }
        }),
    );

  program
    .command('generations')
    .description(
      'stage generations and which one serves; `generations promote [replay-id]` serves a caught-up --no-flip replay',
    )
    .argument('[action]', 'promote')
    .argument('[id]', 'replay id (default: the running one)')
    .addOption(new Option('--json', 'machine-readable output'))
    .action(async (action: string | undefined, id: string | undefined, o: { json?: boolean }) =>
      handle(async () => {
        const ctx = context();
        try {
          if (action === 'promote') {
            const r = id ? await getReplay(ctx.pool, id) : await activeReplay(ctx.pool);
            if (!r) throw new ReplayUsageError(id ? `no replay ${id}` : 'no replay is running', 404);
            return table([summary(await ctx.controller.flip(r.id))], o.json);
          }
          if (action !== undefined) throw new ReplayUsageError(`unknown action ${action}: promote`);
          const rows = await listGenerations(ctx.pool);
          table(
            rows.map((g) => ({
              stage: g.stage,
              generation: g.generation,
              status: g.status,
              serving: g.serving,
              model: g.model,
              group: g.consumerGroup,
              collection: g.collection,
              input_generation: g.inputGeneration,
              from: g.fromPosition?.kind ?? null,
              started_at: g.startedAt,
              finished_at: g.finishedAt,
            })),
            o.json,
          );
        } finally {
          await ctx.close();
        }
      }),
    );

  program
    .command('gc')
    .description("delete retired/aborted generations' consumer groups, collections, cluster changelog keys and rows")
    .option('--older-than <age>', 'only generations finished longer ago than this (7d, 12h, 30m)', '7d')
    .option('--dry-run', 'list what would be deleted')
    .addOption(new Option('--json', 'machine-readable output'))
    .action(async (o: { olderThan: string; dryRun?: boolean; json?: boolean }) =>
      handle(async () => {
        const ctx = context();
        try {
          const rows = await collectGarbage(ctx.controller.opts, {
            olderThanMs: parseAge(o.olderThan),
            dryRun: o.dryRun ?? false,
          });
          if (!rows.length && !o.json) process.stderr.write('feedlog: nothing to collect\n');
          else table(rows as unknown as Record<string, unknown>[], o.json);
        } finally {
          await ctx.close();
        }
      }),
    );
}
