import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  activeReplay,
  getReplay,
  parseFrom,
  type ReplayController,
  type ReplayRow,
  ReplayUsageError,
  STAGES,
} from '@feedlog/replay';
import { Type } from 'typebox';
import { errors } from '../errors.ts';
import { ErrorBody } from '../schemas.ts';

export interface ReplayRouteOptions {
  /** the replay controller (absent: the routes answer 503) */
  controller?: ReplayController;
  /** how often the API advances a running replay, ms (default 1000) */
  advanceEveryMs?: number;
  /**
   * how often the API looks for a replay when none is running, ms (default 30000): a replay started
   * through this API is advanced at once; one started elsewhere (the CLI) is found within this
   * (and the CLI advances it itself while it runs in the foreground)
   */
  idleCheckEveryMs?: number;
}

const StageProgress = Type.Object({
  stage: Type.String(),
  group: Type.String(),
  done: Type.Integer(),
  total: Type.Integer(),
  lag: Type.Integer(),
  rate: Type.Union([Type.Number(), Type.Null()]),
  eta_seconds: Type.Union([Type.Number(), Type.Null()]),
  caught_up: Type.Boolean(),
  pids: Type.Array(Type.Integer()),
});

export const Replay = Type.Object(
  {
    id: Type.String(),
    stage: Type.String(),
    stages: Type.Array(Type.String()),
    generation: Type.Integer(),
    status: Type.String({ description: 'building | caught-up | serving | aborted | failed' }),
    from: Type.Object({ kind: Type.String(), at: Type.Optional(Type.String()), file: Type.Optional(Type.String()) }),
    model: Type.Union([Type.String(), Type.Null()]),
    auto_flip: Type.Boolean(),
    caught_up_since: Type.Union([Type.String(), Type.Null()]),
    progress: Type.Object({
      at: Type.Union([Type.String(), Type.Null()]),
      caught_up: Type.Boolean(),
      stages: Type.Array(StageProgress),
    }),
    error: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String(),
    finished_at: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'Replay' },
);

const CreateReplay = Type.Object(
  {
    stage: Type.Union(STAGES.map((s) => Type.Literal(s))),
    from: Type.Optional(Type.String({ description: 'earliest (default) or an ISO date-time', maxLength: 64 })),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
    no_flip: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

/** The wire shape of a replay (snake_case like the rest of the API). */
export function replayBody(r: ReplayRow) {
  const p = 'stages' in r.progress ? r.progress : undefined;
  return {
    id: r.id,
    stage: r.stage,
    stages: r.stages,
    generation: r.generation,
    status: r.status,
    from: { kind: r.from.kind, ...(r.from.at ? { at: r.from.at } : {}), ...(r.from.file ? { file: r.from.file } : {}) },
    model: r.model,
    auto_flip: r.autoFlip,
    caught_up_since: r.caughtUpSince,
    progress: {
      at: p?.at ?? null,
      caught_up: p?.caughtUp ?? false,
      stages: (p?.stages ?? []).map((s) => ({
        stage: s.stage,
        group: s.group,
        done: s.done,
        total: s.total,
        lag: s.lag,
        rate: s.rate,
        eta_seconds: s.etaSeconds,
        caught_up: s.caughtUp,
        pids: s.pids,
      })),
    },
    error: r.error,
    created_at: r.createdAt,
    finished_at: r.finishedAt,
  };
}

/**
 * POST /v1/replays, GET /v1/replays/:id, DELETE /v1/replays/:id (admin). The API is one of the
 * replay's controllers: while it runs it advances every active replay (progress, caught-up, flip)
 * on a timer; the CLI in the foreground may do the same at the same time (the steps are idempotent).
 */
export const replayRoutes: FastifyPluginAsyncTypebox<ReplayRouteOptions> = async (app, opts) => {
  const c = opts.controller;
  const need = (): ReplayController => {
    if (!c) throw errors.unavailable('replays need the replay controller, which is not configured');
    return c;
  };
  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ReplayUsageError) {
        if (e.status === 404) throw errors.notFound(e.message);
        if (e.status === 409) throw errors.conflict(e.message);
        throw errors.invalidRequest(null, e.message);
      }
      throw e;
    }
  };

  /** advance now (a replay was started here); undefined without a controller */
  let advanceSoon: (() => void) | undefined;
  if (c) {
    const activeMs = opts.advanceEveryMs ?? 1_000;
    const idleMs = opts.idleCheckEveryMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    let busy = false;
    let poked = false;
    let closed = false;
    const schedule = (ms: number) => {
      clearTimeout(timer);
      if (closed) return;
      timer = setTimeout(tick, ms);
      timer.unref();
    };
    // a replay running: every activeMs; none: every idleMs (an idle API must not poll PostgreSQL every second)
    const tick = () => {
      if (busy) return;
      busy = true;
      let running = false;
      activeReplay(app.db.required())
        .then(async (r) => {
          if (!r) return;
          running = true;
          await c.advance(r.id);
        })
        .catch((e) => {
          running = true; // retry at the active pace
          app.log.warn({ err: e }, 'advancing the replay failed; retrying');
        })
        .finally(() => {
          busy = false;
          schedule(running || poked ? activeMs : idleMs);
          poked = false;
        });
    };
    advanceSoon = () => {
      if (busy) poked = true;
      else schedule(0);
    };
    schedule(activeMs);
    app.addHook('onClose', async () => {
      closed = true;
      clearTimeout(timer);
      await c.close();
    });
  }

  const res = {
    200: Replay,
    400: ErrorBody,
    401: ErrorBody,
    403: ErrorBody,
    404: ErrorBody,
    409: ErrorBody,
    503: ErrorBody,
  };

  app.post(
    '/replays',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['replays'],
        summary: 'Start generation N+1 of a stage (and of the stages downstream) from a position',
        security: [{ apiKey: [] }],
        body: CreateReplay,
        response: { ...res, 202: Replay },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const r = await wrap(() =>
        need().start({
          stage: b.stage,
          from: parseFrom(b.from),
          ...(b.model ? { model: b.model } : {}),
          noFlip: b.no_flip ?? false,
        }),
      );
      advanceSoon?.();
      reply.code(202);
      return replayBody(r);
    },
  );

  app.get(
    '/replays/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['replays'],
        summary: 'A replay: status, and per stage records done, total, rate, ETA and lag of the new group',
        security: [{ apiKey: [] }],
        params: IdParams,
        response: res,
      },
    },
    async (req) => {
      const r = await getReplay(app.db.required(), req.params.id);
      if (!r) throw errors.notFound(`no replay ${req.params.id}`);
      return replayBody(r);
    },
  );

  app.delete(
    '/replays/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['replays'],
        summary: 'Abort a replay: its processes stop; serving, rows and results stay as they are',
        security: [{ apiKey: [] }],
        params: IdParams,
        response: res,
      },
    },
    async (req) => replayBody(await wrap(() => need().abort(req.params.id))),
  );
};
