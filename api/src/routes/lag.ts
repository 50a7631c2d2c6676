import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { groupFilter, type LagMonitor, type LagReport, type LagStatus, matches, registerLagGauges } from '@feedlog/lag';
import { Type } from 'typebox';
import { errors } from '../errors.ts';
import { ErrorBody } from '../schemas.ts';

const statuses: LagStatus[] = ['OK', 'WARN', 'ERR', 'STOP', 'STALL', 'REWIND', 'NOTFOUND'];
const Status = Type.Unsafe<LagStatus>({
  type: 'string',
  enum: statuses,
  description: "Burrow's status (linkedin/Burrow evaluator rules); a group takes its worst partition",
});
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
const Owner = Type.Object({ memberId: Type.String(), clientId: Type.String(), host: Type.String() });

const PartitionLag = Type.Object({
  topic: Type.String(),
  partition: Type.Integer(),
  committedOffset: Type.Union([Type.Integer(), Type.Null()], {
    description: 'next offset the group reads; null: none',
  }),
  logStartOffset: Type.Integer(),
  logEndOffset: Type.Integer({ description: 'high watermark' }),
  lag: Type.Integer({
    description: 'log end − committed offset, as kafka-consumer-groups prints LAG (markers included)',
  }),
  markerOnly: Type.Boolean({ description: 'lag is only transaction markers: counted as caught up' }),
  lagSeconds: Type.Union([Type.Number(), Type.Null()], { description: 'age of the oldest unconsumed record' }),
  owner: Type.Optional(Owner),
  status: Status,
  complete: Type.Number({ description: 'share of the evaluation window holding observations' }),
});

const GroupLag = Type.Object({
  group: Type.String(),
  offsetsIn: Type.Union([Type.Literal('kafka'), Type.Literal('postgres')]),
  stage: Type.Optional(Type.String()),
  generation: Type.Optional(Type.Integer()),
  state: Type.String({ description: "Kafka's group state; Unknown for a PostgreSQL-only group" }),
  members: Type.Array(
    Type.Object({
      memberId: Type.String(),
      clientId: Type.String(),
      host: Type.String(),
      assignments: Type.Array(Type.Object({ topic: Type.String(), partitions: Type.Array(Type.Integer()) })),
    }),
  ),
  status: Status,
  lag: Type.Integer(),
  lagSeconds: NullableNumber,
  rateIn: NullableNumber,
  rateOut: NullableNumber,
  partitions: Type.Array(PartitionLag),
});

const LagResponse = Type.Object(
  {
    at: Type.String({ format: 'date-time' }),
    tookMs: Type.Number(),
    warnings: Type.Array(Type.String(), { description: 'what could not be read this time (PostgreSQL down…)' }),
    groups: Type.Array(GroupLag),
  },
  { $id: 'LagReport' },
);

const LagQuery = Type.Object({
  group: Type.Optional(
    Type.String({ minLength: 1, maxLength: 255, description: 'only this group (a trailing * matches a prefix)' }),
  ),
});

export interface LagRouteOptions {
  monitor?: LagMonitor;
  /** a report younger than this is served as is; older ones trigger a sample (default 2000 ms) */
  maxAgeMs?: number;
  /** close the monitor with the app (default true) */
  closeMonitor?: boolean;
}

/**
 * `GET /v1/lag` and the lag gauges on `/metrics`. Requests and scrapes read the monitor's last
 * report; the app's one sampling loop keeps it fresh while pages or scrapes need it.
 */
export const lagRoutes: FastifyPluginAsyncTypebox<LagRouteOptions> = async (app, opts) => {
  const monitor = opts.monitor;
  const maxAgeMs = opts.maxAgeMs ?? 2000;
  if (monitor) {
    registerLagGauges(app.metrics.registry, () => monitor.last());
    // no timer of its own: the app's one sampling loop (api/src/dashboard/feed.ts) runs while a
    // dashboard page or a /metrics scrape needs it, and a stale report is refreshed below
    if (opts.closeMonitor !== false) app.addHook('onClose', async () => monitor.close());
  }

  app.get(
    '/lag',
    {
      schema: {
        tags: ['operations'],
        summary: "Consumer lag of every group (the materializer's from PostgreSQL) with Burrow's status",
        querystring: LagQuery,
        response: { 200: LagResponse, 400: ErrorBody, 503: ErrorBody },
      },
    },
    async (req) => {
      if (!monitor) throw errors.unavailable('lag monitoring is not configured for this API');
      let report: LagReport | undefined = monitor.last();
      if (!report || Date.now() - Date.parse(report.at) > maxAgeMs) {
        try {
          report = await monitor.sample();
        } catch (e) {
          req.log.error({ err: e }, 'lag sample failed');
          throw errors.unavailable('Kafka is unavailable; retry shortly');
        }
      }
      const filter = groupFilter(req.query.group ? [req.query.group] : undefined);
      return filter ? { ...report, groups: report.groups.filter((x) => matches(filter, x.group)) } : report;
    },
  );
};
