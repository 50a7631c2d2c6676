import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { errors } from '../errors.ts';
import { ErrorBody } from '../schemas.ts';

export interface GuardOptions {
  /** requests per window: per key (api_keys.rate_limit_per_minute) and per address without a valid key; false disables */
  rateLimit?: { anonymousPerMinute?: number; timeWindowMs?: number } | false;
}

/**
 * What every route gets, present and future, as root onRequest hooks in this order:
 * rate limit (every request: 401s, 404s, /readyz and /metrics included; only the /healthz
 * liveness probe is exempt, so an attack cannot get a healthy process restarted) → the 401/403
 * the auth plugin found → 404 for an unknown route before its body is read. Plus security
 * headers (helmet) and `Cache-Control: no-store` on API answers.
 * Needs the auth plugin registered first (its resolve hook sets `req.apiKey`).
 */
export const guardsPlugin = fp<GuardOptions>(
  async (app: FastifyInstance, opts) => {
    // Every documented route documents what these hooks can answer (429 always; 401/403 when
    // a key is or may be needed), so the OpenAPI document matches behaviour for future routes too.
    app.addHook('onRoute', (route) => {
      const schema = route.schema as { response?: Record<string, unknown>; hide?: boolean } | undefined;
      if (!schema?.response || schema.hide) return;
      const add = (code: number) => {
        schema.response![code] ??= ErrorBody;
      };
      if (opts.rateLimit !== false && route.url !== '/healthz') add(429);
      const input = route.schema as { querystring?: unknown; params?: unknown; body?: unknown };
      if (input.querystring || input.params || input.body) add(400);
      if (input.body) add(503); // a large body finding the body worker's queue full (json-body.ts)
      if (input.params) add(414); // a path parameter over the router's length limit
      add(401); // a presented but unknown key is refused on every route, so a typo is never silently anonymous
      if (route.url.startsWith('/v1/')) add(403);
    });

    // The API answers JSON only: a CSP that allows nothing but forbids framing. /docs (Swagger
    // UI) gets its own, allowing its scripts and styles from this origin only.
    await app.register(helmet, {
      global: true,
      contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      crossOriginEmbedderPolicy: false,
    });
    const docsCsp =
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
      "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";
    app.addHook('onSend', async (req, reply, payload) => {
      if (req.url.startsWith('/docs')) reply.header('content-security-policy', docsCsp);
      // API answers are per-caller and live: no shared or browser cache keeps them
      else if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
      return payload;
    });

    if (opts.rateLimit !== false) {
      const anonymous = opts.rateLimit?.anonymousPerMinute ?? 120;
      const windowMs = opts.rateLimit?.timeWindowMs ?? 60_000;
      await app.register(rateLimit, {
        global: false,
        timeWindow: windowMs,
        keyGenerator: (req) => (req.apiKey ? `key:${req.apiKey.id}` : `ip:${req.ip}`),
        max: (req) => req.apiKey?.rateLimitPerMinute ?? anonymous,
        allowList: (req) => req.routeOptions.url === '/healthz',
        errorResponseBuilder: (_req, ctx) => errors.rateLimited(ctx.max, `${Math.round(windowMs / 1000)} s`, ctx.after),
      });
      app.addHook('onRequest', app.rateLimit());
    }
    app.addHook('onRequest', async (req) => app.enforceAuth(req));
    // Unknown route: answer before the body is read (Fastify would parse it for the 404 handler).
    app.addHook('onRequest', async (req: FastifyRequest) => {
      if (req.is404) throw errors.notFound(`no route ${req.method} ${req.url.split('?')[0]}`);
    });
  },
  { name: 'feedlog-guards', dependencies: ['feedlog-auth'] },
);
