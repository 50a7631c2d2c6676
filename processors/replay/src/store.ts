import type pg from 'pg';
import type { GenerationRow, ReplayProgress, ReplayRow, StageName, StartPosition } from './types.ts';

type Db = pg.Pool | pg.PoolClient;
const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

interface GenerationDbRow {
  stage: StageName;
  generation: number;
  status: GenerationRow['status'];
  serving: boolean;
  model_name: string | null;
  consumer_group: string | null;
  collection: string | null;
  input_generation: number | null;
  replay_id: string | null;
  started_at: Date;
  serving_since: Date | null;
  finished_at: Date | null;
  from_position: StartPosition | null;
  config: GenerationRow['config'];
}

const toGeneration = (r: GenerationDbRow): GenerationRow => ({
  stage: r.stage,
  generation: r.generation,
  status: r.status,
  serving: r.serving,
  model: r.model_name,
  consumerGroup: r.consumer_group,
  collection: r.collection,
  inputGeneration: r.input_generation,
  replayId: r.replay_id,
  startedAt: iso(r.started_at) ?? '',
  servingSince: iso(r.serving_since),
  finishedAt: iso(r.finished_at),
  fromPosition: r.from_position,
  config: r.config ?? {},
});

export async function listGenerations(db: Db): Promise<GenerationRow[]> {
  const r = await db.query<GenerationDbRow>(
    `SELECT * FROM generations ORDER BY array_position(ARRAY['classify','cluster','embed','index'], stage), generation`,
  );
  return r.rows.map(toGeneration);
}

export async function generationsOf(db: Db, stages: StageName[], generation: number): Promise<GenerationRow[]> {
  const r = await db.query<GenerationDbRow>(
    `SELECT * FROM generations WHERE stage = ANY($1) AND generation = $2
     ORDER BY array_position(ARRAY['classify','cluster','embed','index'], stage)`,
    [stages, generation],
  );
  return r.rows.map(toGeneration);
}

export async function servingGenerations(db: Db): Promise<Map<StageName, GenerationRow>> {
  const r = await db.query<GenerationDbRow>('SELECT * FROM generations WHERE serving');
  return new Map(r.rows.map((x) => [x.stage, toGeneration(x)]));
}

export interface NewGeneration {
  stage: StageName;
  generation: number;
  model: string | null;
  consumerGroup: string;
  collection: string | null;
  inputGeneration: number | null;
  replayId: string | null;
  status: 'building' | 'serving';
  from: StartPosition | null;
  config: GenerationRow['config'];
}

export async function insertGeneration(db: Db, g: NewGeneration): Promise<void> {
  await db.query(
    `INSERT INTO generations (stage, generation, model_name, consumer_group, collection, input_generation, replay_id,
       status, serving, serving_since, from_position, config)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8 = 'serving', CASE WHEN $8 = 'serving' THEN now() END, $9, $10)
     ON CONFLICT (stage, generation) DO NOTHING`,
    [
      g.stage,
      g.generation,
      g.model,
      g.consumerGroup,
      g.collection,
      g.inputGeneration,
      g.replayId,
      g.status,
      g.from ? JSON.stringify(g.from) : null,
      JSON.stringify(g.config),
    ],
  );
}

/** The highest generation number any of `stages` ever had (0: none). */
export async function maxGeneration(db: Db, stages: StageName[]): Promise<number> {
  const r = await db.query<{ g: number | null }>('SELECT max(generation) AS g FROM generations WHERE stage = ANY($1)', [
    stages,
  ]);
  return r.rows[0]?.g ?? 0;
}

interface ReplayDbRow {
  id: string;
  stage: StageName;
  stages: StageName[];
  generation: number;
  status: ReplayRow['status'];
  from_position: StartPosition;
  model: string | null;
  auto_flip: boolean;
  caught_up_since: Date | null;
  progress: ReplayRow['progress'];
  error: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

const toReplay = (r: ReplayDbRow): ReplayRow => ({
  id: r.id,
  stage: r.stage,
  stages: r.stages,
  generation: r.generation,
  status: r.status,
  from: r.from_position,
  model: r.model,
  autoFlip: r.auto_flip,
  caughtUpSince: iso(r.caught_up_since),
  progress: r.progress,
  error: r.error,
  createdAt: iso(r.created_at) ?? '',
  updatedAt: iso(r.updated_at) ?? '',
  finishedAt: iso(r.finished_at),
});

export async function insertReplay(
  db: Db,
  r: Pick<ReplayRow, 'id' | 'stage' | 'stages' | 'generation' | 'from' | 'model' | 'autoFlip'>,
): Promise<void> {
  await db.query(
    `INSERT INTO replays (id, stage, stages, generation, from_position, model, auto_flip)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [r.id, r.stage, r.stages, r.generation, JSON.stringify(r.from), r.model, r.autoFlip],
  );
}

export async function getReplay(db: Db, id: string, lock = false): Promise<ReplayRow | undefined> {
  const r = await db.query<ReplayDbRow>(`SELECT * FROM replays WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows[0] ? toReplay(r.rows[0]) : undefined;
}

export async function activeReplay(db: Db): Promise<ReplayRow | undefined> {
  const r = await db.query<ReplayDbRow>(
    "SELECT * FROM replays WHERE status IN ('building', 'caught-up') ORDER BY created_at DESC LIMIT 1",
  );
  return r.rows[0] ? toReplay(r.rows[0]) : undefined;
}

export async function listReplays(db: Db, limit = 20): Promise<ReplayRow[]> {
  const r = await db.query<ReplayDbRow>('SELECT * FROM replays ORDER BY created_at DESC LIMIT $1', [limit]);
  return r.rows.map(toReplay);
}

/**
 * Record a progress sample; `caught_up_since` is kept while every group stays caught up and
 * cleared otherwise. Only a replay still building moves (a flipped or aborted one is final).
 */
export async function recordProgress(db: Db, id: string, p: ReplayProgress): Promise<ReplayRow | undefined> {
  const r = await db.query<ReplayDbRow>(
    `UPDATE replays SET progress = $2, updated_at = now(),
       caught_up_since = CASE WHEN $3 THEN coalesce(caught_up_since, now()) END
     WHERE id = $1 AND status IN ('building', 'caught-up') RETURNING *`,
    [id, JSON.stringify(p), p.caughtUp],
  );
  return r.rows[0] ? toReplay(r.rows[0]) : undefined;
}

/** Mark the replay and its generations caught up (idempotent). */
export async function markCaughtUp(db: Db, replay: ReplayRow): Promise<void> {
  await db.query(
    `UPDATE generations SET status = 'caught-up', caught_up = true, caught_up_at = coalesce(caught_up_at, now())
     WHERE stage = ANY($1) AND generation = $2 AND status = 'building'`,
    [replay.stages, replay.generation],
  );
  await db.query("UPDATE replays SET status = 'caught-up', updated_at = now() WHERE id = $1 AND status = 'building'", [
    replay.id,
  ]);
}
