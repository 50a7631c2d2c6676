import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Liveness, Readiness } from '../schemas.ts';

export interface HealthRouteOptions {
  /** extra checks (e.g. the schema registry) by component name */
  checks?: Record<string, () => Promise<void>>;
  /** components whose failure makes the API unready (the others only degrade it) */
  required?: readonly string[];
  timeoutMs?: number;
}

interface CheckResult {
  ok: boolean;
  latency_ms: number | null;
  error?: string;
}

async function timed(fn: (() => Promise<void>) | undefined, timeoutMs: number): Promise<CheckResult> {
  if (!fn) return { ok: false, latency_ms: null, error: 'not configured' };
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, latency_ms: Math.round((performance.now() - t0) * 10) / 10 };
  } catch (e) {
    // a short reason (connection refused, timeout), never a stack
    const msg = String((e as Error)?.message ?? e)
      .split('\n')[0]!
      .slice(0, 200);
    return { ok: false, latency_ms: Math.round((performance.now() - t0) * 10) / 10, error: msg };
  } finally {
    clearTimeout(timer);
  }
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRouteOptions> = async (app, opts) => {
  const timeoutMs = opts.timeoutMs ?? 2_000;
  const required = new Set(opts.required ?? ['kafka', 'registry', 'postgres']);

  app.get(
    '/healthz',
    { schema: { tags: ['health'], summary: 'Liveness: the process answers', response: { 200: Liveness } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: Kafka, registry, PostgreSQL, embedder and index, each with ok/error and latency',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_req, reply) => {
      const pool = app.db.pool;
      const index = app.vectorIndex.index;
      const embedder = app.embedder;
      const checks: Record<string, (() => Promise<void>) | undefined> = {
        kafka: () => app.ingest.sink.check(),
        registry: () => app.ingest.encoder.check(),
        postgres: pool ? async () => void (await pool.query('SELECT 1')) : undefined,
        embedder: embedder ? () => embedder.check() : undefined,
        index: index ? async () => void (await index.servingGeneration(app.vectorIndex.alias)) : undefined,
        ...opts.checks,
      };
      const names = Object.keys(checks);
      const results = await Promise.all(names.map((n) => timed(checks[n], timeoutMs)));
      const components = Object.fromEntries(names.map((n, i) => [n, results[i]!]));
      const down = names.filter((n) => !components[n]!.ok);
      const unready = down.some((n) => required.has(n));
      reply.code(unready ? 503 : 200);
      const status = unready ? 'unavailable' : down.length ? 'degraded' : 'ready';
      return { status: status as 'unavailable' | 'degraded' | 'ready', components };
    },
  );

  app.get('/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics' } }, async (_req, reply) => {
    reply.header('content-type', app.metrics.registry.contentType);
    return app.metrics.registry.metrics();
  });
};
