import createError from '@fastify/error';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { parseSchedule, ScheduleError } from '@feedlog/poller/schedule';
import { FeedExistsError, type Feed as FeedRecord, FeedStore } from '@feedlog/poller/store';
import { type Static, Type } from 'typebox';
import { errors } from '../errors.ts';
import { ErrorBody } from '../schemas.ts';

const FeedExists = createError('feed_exists', '%s', 409);

const nullable = <T extends ReturnType<typeof Type.String>>(s: T) =>
  Type.Unsafe<string | null>({ ...s, type: ['string', 'null'] });
const when = nullable(Type.String({ format: 'date-time' }));

export const Feed = Type.Object(
  {
    id: Type.Integer(),
    url: Type.String(),
    name: Type.String(),
    source: Type.String({ description: 'source id in the item ids of this feed (default: the URL host)' }),
    schedule: Type.String({ description: 'an interval (`900s`) or a six-field cron expression' }),
    time_zone: Type.String(),
    enabled: Type.Boolean(),
    etag: nullable(Type.String()),
    last_modified: nullable(Type.String()),
    last_polled_at: when,
    last_success_at: when,
    last_status: Type.Union([Type.Integer(), Type.Null()]),
    last_error: nullable(Type.String()),
    last_error_at: when,
    consecutive_failures: Type.Integer(),
    next_due_at: Type.String({ format: 'date-time' }),
    items_seen: Type.Integer(),
    polls: Type.Integer(),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Feed' },
);

const Poll = Type.Object({
  job_id: Type.String(),
  due_at: Type.String({ format: 'date-time' }),
  started_at: Type.String({ format: 'date-time' }),
  finished_at: Type.String({ format: 'date-time' }),
  http_status: Type.Union([Type.Integer(), Type.Null()]),
  outcome: Type.String(),
  items: Type.Integer(),
  produced: Type.Integer(),
  error: nullable(Type.String()),
  poller: Type.String(),
});

const NewFeed = Type.Object(
  {
    url: Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2000 }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    source: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    schedule: Type.String({ minLength: 1, maxLength: 200, examples: ['15m', '0 0 7,10,13,16,19,22 * * 1-6'] }),
    time_zone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, examples: ['Europe/Berlin'] })),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const FeedParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

function feedView(f: FeedRecord): Static<typeof Feed> {
  return {
    id: f.id,
    url: f.url,
    name: f.name,
    source: f.source,
    schedule: f.schedule.kind === 'interval' ? `${f.schedule.seconds}s` : f.schedule.expr,
    time_zone: f.schedule.kind === 'cron' ? f.schedule.timeZone : 'UTC',
    enabled: f.enabled,
    etag: f.etag,
    last_modified: f.lastModified,
    last_polled_at: f.lastPolledAt,
    last_success_at: f.lastSuccessAt,
    last_status: f.lastStatus,
    last_error: f.lastError,
    last_error_at: f.lastErrorAt,
    consecutive_failures: f.consecutiveFailures,
    next_due_at: f.nextDueAt,
    items_seen: f.itemsSeen,
    polls: f.polls,
    created_at: f.createdAt,
  };
}

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : (v as string));

/** The feed registry (issue 13), admin scope: what the poller polls and how its polls went. */
export const feedsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const store = () => new FeedStore(app.db.required());
  const admin = { scope: 'admin' } as const;
  const common = { tags: ['feeds'], security: [{ apiKey: [] }] };
  const found = (f: FeedRecord | undefined, id: number) => {
    if (!f) throw errors.notFound(`no feed ${id}`);
    return feedView(f);
  };

  app.get(
    '/feeds',
    {
      config: admin,
      schema: {
        ...common,
        summary: 'Every feed',
        response: { 200: Type.Object({ feeds: Type.Array(Feed) }), 401: ErrorBody, 403: ErrorBody },
      },
    },
    async () => ({ feeds: (await store().list()).map(feedView) }),
  );

  app.post(
    '/feeds',
    {
      config: admin,
      schema: {
        ...common,
        summary: 'Register a feed',
        description: 'Due at once for an interval schedule, at the first firing for a cron one.',
        body: NewFeed,
        response: { 201: Feed, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 409: ErrorBody },
      },
    },
    async (req, reply) => {
      let schedule: ReturnType<typeof parseSchedule>;
      try {
        schedule = parseSchedule(req.body.schedule, req.body.time_zone ?? 'UTC');
      } catch (e) {
        if (e instanceof ScheduleError)
          throw errors.invalidRequest([{ field: 'schedule', message: e.message }], e.message);
        throw e;
      }
      try {
        const f = await store().add({ ...req.body, schedule });
        reply.code(201).header('location', `/v1/feeds/${f.id}`);
        return feedView(f);
      } catch (e) {
        if (e instanceof FeedExistsError) throw new FeedExists(e.message);
        throw e;
      }
    },
  );

  app.get(
    '/feeds/:id',
    {
      config: admin,
      schema: {
        ...common,
        summary: 'A feed and its last polls',
        params: FeedParams,
        response: {
          200: Type.Object({ feed: Feed, polls: Type.Array(Poll) }),
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (req) => {
      const feed = found(await store().get(req.params.id), req.params.id);
      const polls = (await store().recentPolls(req.params.id)).map((p) => ({
        ...p,
        due_at: iso(p.due_at),
        started_at: iso(p.started_at),
        finished_at: iso(p.finished_at),
      })) as Static<typeof Poll>[];
      return { feed, polls };
    },
  );

  app.delete(
    '/feeds/:id',
    {
      config: admin,
      schema: {
        ...common,
        summary: 'Remove a feed (its items stay)',
        params: FeedParams,
        response: { 204: Type.Null(), 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      if (!(await store().remove(req.params.id))) throw errors.notFound(`no feed ${req.params.id}`);
      reply.code(204);
      return null;
    },
  );

  const action = (path: string, summary: string, run: (s: FeedStore, id: number) => Promise<FeedRecord | undefined>) =>
    app.post(
      `/feeds/:id/${path}`,
      {
        config: admin,
        schema: {
          ...common,
          summary,
          params: FeedParams,
          response: { 200: Feed, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
        },
      },
      async (req) => found(await run(store(), req.params.id), req.params.id),
    );
  action('pause', 'Stop polling a feed', (s, id) => s.setEnabled(id, false));
  action('resume', 'Poll a feed again', (s, id) => s.setEnabled(id, true));
  action('poll-now', 'Make a feed due now (the poller takes it on its next pass)', (s, id) => s.pollNow(id));
};
