import { randomUUID } from 'node:crypto';
import type { VectorIndex } from '@feedlog/index';
import type { Admin, Kafka } from 'kafkajs';
import type pg from 'pg';
import { flipReplay } from './flip.ts';
import { type FromSpec, resolvePosition } from './position.ts';
import { adoptAsStage, type ProcessPlace, runningPid, startStageProcess, stopStageProcess } from './processes.ts';
import { type ProgressInput, sampleProgress } from './progress.ts';
import {
  activeReplay,
  generationsOf,
  getReplay,
  insertGeneration,
  insertReplay,
  markCaughtUp,
  maxGeneration,
  recordProgress,
  servingGenerations,
} from './store.ts';
import {
  cascadeOf,
  type GenerationRow,
  groupFor,
  inputTopic,
  type ReplayProgress,
  type ReplayRow,
  ReplayUsageError,
  STAGES,
  type StageName,
  upstreamOf,
} from './types.ts';

export interface ReplayControllerOptions {
  pool: pg.Pool;
  kafka: Kafka;
  /** where PID files and logs go (FEEDLOG_HOME) and the repository whose stage entries run */
  home: string;
  root: string;
  /** topic prefix of the deployment (tests); default none */
  prefix?: string;
  /** the vector index (the alias flip after the serving row moves, gc of collections) */
  index: () => VectorIndex;
  alias?: string;
  /** extra environment of every stage process the controller starts (INDEX_DIR, …) */
  env?: Record<string, string>;
  /** the model a stage serving before any replay was started with (written when that generation is adopted) */
  currentModels?: Partial<Record<StageName, string>>;
  /** caught up = every new group's lag within `lagBound` records per partition for `stableMs` */
  lagBound?: number;
  stableMs?: number;
  log?: (line: string) => void;
}

export interface StartReplay {
  stage: StageName;
  from?: FromSpec;
  /** embed: an embedding model name; classify: a model artifact path */
  model?: string;
  /** wait for `generations promote` instead of flipping when caught up */
  noFlip?: boolean;
}

/**
 * The replay state machine. Everything it knows is in PostgreSQL (`replays`, `generations`) and
 * Kafka (the new groups' offsets), so any controller — the CLI in the foreground, the API in the
 * background — advances a replay with the same idempotent `advance(id)`, and one that restarts
 * resumes where the rows say:
 *
 *   building ──(every new group caught up for stableMs)──▶ caught-up ──(auto, or promote)──▶ serving
 *       └────────────────────────(abort)──────────────────────┴──▶ aborted
 */
export class ReplayController {
  readonly prefix: string;
  private readonly place: ProcessPlace;
  private admin: Admin | undefined;

  constructor(readonly opts: ReplayControllerOptions) {
    this.prefix = opts.prefix ?? '';
    this.place = { home: opts.home, root: opts.root, prefix: this.prefix };
  }

  private log(line: string) {
    this.opts.log?.(line);
  }

  private async kafkaAdmin(): Promise<Admin> {
    if (!this.admin) {
      const a = this.opts.kafka.admin();
      await a.connect();
      this.admin = a;
    }
    return this.admin;
  }

  async close(): Promise<void> {
    await this.admin?.disconnect().catch(() => undefined);
    this.admin = undefined;
  }

  /** Register generation N+1 of `stage` and of every stage downstream, set the new groups' positions, start their processes. */
  async start(req: StartReplay): Promise<ReplayRow> {
    const stages = cascadeOf(req.stage);
    if (req.model && req.stage !== 'embed' && req.stage !== 'classify')
      throw new ReplayUsageError(
        `--model applies to embed (a model name) or classify (a model file), not ${req.stage}`,
      );
    const admin = await this.kafkaAdmin();
    const id = `replay-${randomUUID()}`;
    const client = await this.opts.pool.connect();
    try {
      await client.query('BEGIN');
      // one replay is created at a time; the partial unique index refuses a second active one anyway
      await client.query("SELECT pg_advisory_xact_lock(hashtext('feedlog.replays'))");
      const active = await activeReplay(client);
      if (active) throw new ReplayUsageError(`replay ${active.id} (${active.stage}) is still ${active.status}`, 409);
      await this.adoptServing(client);
      const serving = await servingGenerations(client);
      const generation = (await maxGeneration(client, stages)) + 1;
      const from = req.from ?? { kind: 'earliest' };
      const first = await resolvePosition(admin, `${this.prefix}${inputTopic[req.stage]}`, from);
      await insertReplay(client, {
        id,
        stage: req.stage,
        stages,
        generation,
        from: first,
        model: req.model ?? null,
        autoFlip: !req.noFlip,
      });
      for (const stage of stages) {
        const up = upstreamOf(stage);
        // the first stage reads the serving upstream generation; the others, the new one
        const inputGeneration =
          up === undefined ? null : stage === req.stage ? (serving.get(up)?.generation ?? 1) : generation;
        // downstream groups only need what the new upstream generation appends from now on
        const pos =
          stage === req.stage ? first : await resolvePosition(admin, `${this.prefix}${inputTopic[stage]}`, 'log-end');
        const model = stage === req.stage && req.model ? req.model : (serving.get(stage)?.model ?? null);
        await insertGeneration(client, {
          stage,
          generation,
          model,
          consumerGroup: groupFor(stage, generation, this.prefix),
          collection: stage === 'embed' || stage === 'index' ? `headlines_g${generation}` : null,
          inputGeneration,
          replayId: id,
          status: 'building',
          from: pos,
          config: { env: this.stageEnv(stage, generation, inputGeneration, model) },
        });
      }
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
    this.log(`replay ${id}: ${stages.join(' → ')} generation ${(await getReplay(this.opts.pool, id))?.generation}`);
    await this.ensureProcesses(id);
    return (await getReplay(this.opts.pool, id)) as ReplayRow;
  }

  /** The stages serving before any replay become generation rows (status serving), once. */
  private async adoptServing(client: pg.PoolClient): Promise<void> {
    const serving = await servingGenerations(client);
    for (const stage of STAGES) {
      if (serving.has(stage)) continue;
      const col = `${stage}_generation`;
      const modelCol = stage === 'classify' ? 'classify_model' : stage === 'embed' ? 'embed_model' : null;
      // what the store says served so far (the newest generation of the stage in `items`), else generation 1
      const seen = await client.query<{ g: number | null; m: string | null }>(
        `SELECT ${col} AS g, ${modelCol ?? 'NULL::text'} AS m FROM items WHERE ${col} IS NOT NULL ORDER BY ${col} DESC LIMIT 1`,
      );
      const g = seen.rows[0]?.g ?? 1;
      const up = upstreamOf(stage);
      await insertGeneration(client, {
        stage,
        generation: g,
        model: seen.rows[0]?.m ?? this.opts.currentModels?.[stage] ?? null,
        consumerGroup: groupFor(stage, g, this.prefix),
        collection: stage === 'embed' || stage === 'index' ? `headlines_g${g}` : null,
        inputGeneration: up === undefined ? null : g,
        replayId: null,
        status: 'serving',
        from: null,
        config: {},
      });
    }
  }

  private stageEnv(
    stage: StageName,
    generation: number,
    inputGeneration: number | null,
    model: string | null,
  ): Record<string, string> {
    const env: Record<string, string> = {
      ...this.opts.env,
      STAGE_GENERATION: String(generation),
      FEEDLOG_TOPIC_PREFIX: this.prefix,
      // the stack's health/metrics ports belong to the serving processes (present though empty, the
      // new name also overrides a deprecated HEALTH_PORT the child would inherit)
      STAGE_HEALTH_PORT: '',
      METRICS_PORT: '',
    };
    if (inputGeneration !== null) env.INPUT_GENERATION = String(inputGeneration);
    if (stage === 'embed' && model) env.EMBEDDING_MODEL = model;
    if (stage === 'classify' && model) env.CLASSIFY_MODEL = model;
    if (stage === 'index') {
      env.INDEX_SERVE_FIRST = 'false';
      if (this.opts.alias) env.INDEX_ALIAS = this.opts.alias;
    }
    return env;
  }

  /**
   * Every stage process of a building replay running (idempotent: a dead one — SIGKILLed, crashed —
   * is started again and resumes from its group's committed offsets). A group with no committed
   * offset gets its start position first, so a process is never left to pick its own.
   */
  async ensureProcesses(id: string): Promise<void> {
    const client = await this.opts.pool.connect();
    try {
      await client.query('BEGIN');
      // one controller at a time restarts processes; the others skip this step
      const r = await client.query(
        "SELECT id FROM replays WHERE id = $1 AND status IN ('building', 'caught-up') FOR UPDATE SKIP LOCKED",
        [id],
      );
      if (r.rowCount === 0) {
        await client.query('COMMIT');
        return;
      }
      const replay = (await getReplay(client, id)) as ReplayRow;
      const admin = await this.kafkaAdmin();
      for (const g of await generationsOf(client, replay.stages, replay.generation)) {
        if (runningPid(this.place, g.stage, g.generation) !== undefined) continue;
        await this.ensureOffsets(admin, g);
        const pid = startStageProcess(this.place, g.stage, g.generation, g.config.env ?? {});
        this.log(`replay ${id}: started ${g.stage} g${g.generation} (pid ${pid})`);
      }
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  private async ensureOffsets(admin: Admin, g: GenerationRow): Promise<void> {
    if (!g.consumerGroup || !g.fromPosition) return;
    const topic = `${this.prefix}${inputTopic[g.stage]}`;
    const committed = await admin.fetchOffsets({ groupId: g.consumerGroup, topics: [topic] });
    if ((committed[0]?.partitions ?? []).some((p) => Number(p.offset) >= 0)) return;
    await admin.setOffsets({
      groupId: g.consumerGroup,
      topic,
      partitions: g.fromPosition.partitions.map((p) => ({ partition: p.partition, offset: String(p.offset) })),
    });
  }

  /**
   * One step of the state machine (idempotent, safe from several controllers at once): processes
   * up, a progress sample, caught-up bookkeeping, and the flip when it is due.
   */
  async advance(id: string): Promise<ReplayRow> {
    let replay = await getReplay(this.opts.pool, id);
    if (!replay) throw new ReplayUsageError(`no replay ${id}`, 404);
    if (replay.status === 'serving') {
      await this.afterFlip(replay);
      return replay;
    }
    if (replay.status !== 'building' && replay.status !== 'caught-up') return replay;
    await this.ensureProcesses(id);
    const progress = await this.progress(replay);
    replay = (await recordProgress(this.opts.pool, id, progress)) ?? replay;
    const stableMs = this.opts.stableMs ?? 3_000;
    if (
      progress.caughtUp &&
      replay.caughtUpSince &&
      Date.now() - Date.parse(replay.caughtUpSince) >= stableMs &&
      replay.status === 'building'
    ) {
      await markCaughtUp(this.opts.pool, replay);
      replay = (await getReplay(this.opts.pool, id)) as ReplayRow;
      this.log(`replay ${id}: caught up`);
    }
    if (replay.status === 'caught-up' && replay.autoFlip && progress.caughtUp) return this.flip(id);
    return replay;
  }

  async progress(replay: ReplayRow): Promise<ReplayProgress> {
    const gens = await generationsOf(this.opts.pool, replay.stages, replay.generation);
    const inputs: ProgressInput[] = gens.map((g) => {
      const pid = runningPid(this.place, g.stage, g.generation);
      return {
        stage: g.stage,
        topic: `${this.prefix}${inputTopic[g.stage]}`,
        generation: g,
        pids: pid === undefined ? [] : [pid],
      };
    });
    const prev = 'stages' in replay.progress ? (replay.progress as ReplayProgress) : undefined;
    return sampleProgress(await this.kafkaAdmin(), inputs, prev, this.opts.lagBound ?? 1);
  }

  /** Flip now (the replay must be caught up): `generations promote` and the automatic flip. */
  async flip(id: string): Promise<ReplayRow> {
    const replay = await getReplay(this.opts.pool, id);
    if (!replay) throw new ReplayUsageError(`no replay ${id}`, 404);
    if (replay.status === 'serving') return replay;
    if (replay.status !== 'caught-up')
      throw new ReplayUsageError(`replay ${id} is ${replay.status}: only a caught-up replay can serve`, 409);
    if (replay.stages.includes('index')) {
      // never point serving at a collection that does not exist (search would go down)
      const n = await this.opts
        .index()
        .count(replay.generation)
        .catch(() => -1);
      if (n < 0) throw new ReplayUsageError(`collection headlines_g${replay.generation} does not exist yet`, 409);
    }
    const flipped = await flipReplay(this.opts.pool, replay);
    if (flipped) this.log(`replay ${id}: generation ${replay.generation} serves`);
    const now = (await getReplay(this.opts.pool, id)) as ReplayRow;
    await this.afterFlip(now);
    return now;
  }

  /**
   * After the serving rows moved: the index alias follows, the new generation's processes take the
   * stages' own PID files (the retired ones they replace stop). Idempotent.
   */
  private async afterFlip(replay: ReplayRow): Promise<void> {
    if (replay.stages.includes('index')) {
      const alias = this.opts.alias ?? 'headlines';
      const index = this.opts.index();
      if ((await index.servingGeneration(alias).catch(() => undefined)) !== replay.generation)
        await index.flipAlias(alias, replay.generation);
    }
    for (const stage of replay.stages) {
      if (await adoptAsStage(this.place, stage, replay.generation))
        this.log(`replay ${replay.id}: ${stage} g${replay.generation} now runs as the stage`);
    }
    const retired = await this.opts.pool.query<{ stage: StageName; generation: number }>(
      "SELECT stage, generation FROM generations WHERE stage = ANY($1) AND status = 'retired'",
      [replay.stages],
    );
    for (const r of retired.rows) await stopStageProcess(this.place, r.stage, r.generation);
  }

  /** Stop the new groups' processes; serving, rows and results stay as they are (idempotent). */
  async abort(id?: string): Promise<ReplayRow> {
    const replay = id ? await getReplay(this.opts.pool, id) : await activeReplay(this.opts.pool);
    if (!replay) throw new ReplayUsageError(id ? `no replay ${id}` : 'no replay is running', 404);
    if (replay.status === 'serving') throw new ReplayUsageError(`replay ${replay.id} already serves`, 409);
    const client = await this.opts.pool.connect();
    try {
      await client.query('BEGIN');
      await getReplay(client, replay.id, true);
      await client.query(
        "UPDATE replays SET status = 'aborted', finished_at = coalesce(finished_at, now()), updated_at = now() WHERE id = $1 AND status IN ('building', 'caught-up')",
        [replay.id],
      );
      await client.query(
        "UPDATE generations SET status = 'aborted', finished_at = coalesce(finished_at, now()) WHERE stage = ANY($1) AND generation = $2 AND NOT serving AND status IN ('building', 'caught-up')",
        [replay.stages, replay.generation],
      );
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
    for (const s of replay.stages) await stopStageProcess(this.place, s, replay.generation);
    this.log(`replay ${replay.id}: aborted`);
    return (await getReplay(this.opts.pool, replay.id)) as ReplayRow;
  }

  /** Advance until the replay serves, is aborted, or (no flip) caught up; `onProgress` after each step. */
  async watch(
    id: string,
    opts: { intervalMs?: number; signal?: AbortSignal; onProgress?: (r: ReplayRow) => void } = {},
  ): Promise<ReplayRow> {
    for (;;) {
      const r = await this.advance(id);
      opts.onProgress?.(r);
      if (r.status === 'serving' || r.status === 'aborted' || r.status === 'failed') return r;
      if (r.status === 'caught-up' && !r.autoFlip) return r;
      if (opts.signal?.aborted) return r;
      await new Promise((res) => setTimeout(res, opts.intervalMs ?? 1_000));
    }
  }
}
