import { eventLoopResolutionMs } from '@feedlog/common';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface ApiMetrics {
  registry: Registry;
  itemsAccepted: Counter<'caller'>;
  itemsRejected: Counter<'caller'>;
  produceSeconds: Histogram;
  searchSeconds: Histogram<'mode'>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ApiMetrics;
  }
}

/** One prom-client registry per app (tests build many apps in one process). */
export const metricsPlugin = fp<{ defaultMetrics?: boolean }>(
  async (app: FastifyInstance, opts) => {
    const registry = new Registry();
    if (opts.defaultMetrics !== false)
      // a coarse event-loop monitor: the default 10 ms one wakes an idle API 100 times a second
      collectDefaultMetrics({
        register: registry,
        prefix: 'feedlog_api_',
        eventLoopMonitoringPrecision: eventLoopResolutionMs(),
      });
    const http = new Histogram({
      name: 'feedlog_api_http_request_duration_seconds',
      help: 'HTTP request latency by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    const metrics: ApiMetrics = {
      registry,
      itemsAccepted: new Counter({
        name: 'feedlog_api_items_accepted_total',
        help: 'items produced to raw-headlines',
        labelNames: ['caller'],
        registers: [registry],
      }),
      itemsRejected: new Counter({
        name: 'feedlog_api_items_rejected_total',
        help: 'items refused by validation',
        labelNames: ['caller'],
        registers: [registry],
      }),
      produceSeconds: new Histogram({
        name: 'feedlog_api_produce_duration_seconds',
        help: 'time to encode and produce one accepted batch (acks=all)',
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers: [registry],
      }),
      searchSeconds: new Histogram({
        name: 'feedlog_api_search_duration_seconds',
        help: 'search latency (embed + index + join) by mode',
        labelNames: ['mode'],
        buckets: [0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
        registers: [registry],
      }),
    };
    app.decorate('metrics', metrics);
    app.addHook('onResponse', async (req, reply) => {
      http.observe(
        { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    });
  },
  { name: 'feedlog-metrics' },
);
