import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import helmet from '@fastify/helmet';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../errors.ts';
import type { DashboardFeed } from './feed.ts';
import type { PipelineGraph } from './graph.ts';

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  cache: string;
}

const staticDir = join(import.meta.dirname, 'static');
const uplotDir = dirname(createRequire(import.meta.url).resolve('uplot'));
const uplotVersion = (JSON.parse(readFileSync(join(uplotDir, '..', 'package.json'), 'utf8')) as { version: string })
  .version;

// Our own files may change with a deploy: the browser revalidates them (cheap 304s by ETag).
// The charting library's URL carries its version, so it is cached for a year.
const revalidate = 'no-cache';
const immutable = 'public, max-age=31536000, immutable';

function asset(body: Buffer | string, type: string, cache: string): Asset {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return { body: buf, type, cache, etag: `"${createHash('sha256').update(buf).digest('base64url').slice(0, 22)}"` };
}

/** Every file the page needs, read once at start-up (a few tens of kB). */
function loadAssets(): Map<string, Asset> {
  const uplotJs = `/dashboard/vendor/uplot-${uplotVersion}.min.js`;
  const uplotCss = `/dashboard/vendor/uplot-${uplotVersion}.min.css`;
  const html = readFileSync(join(staticDir, 'index.html'), 'utf8')
    .replaceAll('{{UPLOT_JS}}', uplotJs)
    .replaceAll('{{UPLOT_CSS}}', uplotCss);
  return new Map([
    ['/', asset(html, 'text/html; charset=utf-8', revalidate)],
    ['/dashboard/app.js', asset(readFileSync(join(staticDir, 'app.js')), 'text/javascript; charset=utf-8', revalidate)],
    ['/dashboard/app.css', asset(readFileSync(join(staticDir, 'app.css')), 'text/css; charset=utf-8', revalidate)],
    [uplotJs, asset(readFileSync(join(uplotDir, 'uPlot.iife.min.js')), 'text/javascript; charset=utf-8', immutable)],
    [uplotCss, asset(readFileSync(join(uplotDir, 'uPlot.min.css')), 'text/css; charset=utf-8', immutable)],
  ]);
}

export interface DashboardOptions {
  feed: DashboardFeed;
  graph: PipelineGraph;
  /** pages connected at once to the event stream (default 200); more get 503 */
  maxClients?: number;
  /** comment line sent when nothing else was, so proxies keep the stream open (default 15 s) */
  heartbeatMs?: number;
  /** reconnection delay the page's EventSource uses (default 2 s) */
  retryMs?: number;
}

/**
 * The dashboard: the page at `/` and its assets (strict CSP: only this origin, no inline code,
 * no framing), and `GET /v1/events`, the server-sent event stream every page reads, fed by the
 * one shared DashboardFeed.
 */
export const dashboardRoutes: FastifyPluginAsync<DashboardOptions> = async (app, opts) => {
  const assets = loadAssets();
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // the API is plain HTTP on loopback by default: HSTS would be wrong here
    strictTransportSecurity: false,
  });

  const serve = async (req: FastifyRequest, reply: FastifyReply) => {
    const a = assets.get(req.url.split('?')[0] ?? '');
    if (!a) throw errors.notFound(`no route GET ${req.url.split('?')[0]}`);
    reply.header('cache-control', a.cache).header('etag', a.etag).type(a.type);
    if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
    return reply.send(a.body);
  };
  const hidden = { hide: true };
  for (const path of assets.keys()) app.get(path, { schema: hidden, config: { rateLimit: false } }, serve);

  app.get('/v1/dashboard/graph', { schema: hidden }, async (_req, reply) => {
    reply.header('cache-control', 'no-cache');
    return opts.graph;
  });

  const maxClients = opts.maxClients ?? 200;
  let clients = 0;
  const streams = new Set<ServerResponse>();
  // close() waits for open requests: end every stream first, so a restart is seen by the pages
  app.addHook('preClose', async () => {
    for (const s of streams) s.end();
  });
  app.get(
    '/v1/events',
    {
      schema: {
        tags: ['dashboard'],
        summary:
          'Server-sent events of the dashboard: `history` (chart points of the last 15 minutes) on connect, then `lag`, `point` and `ops` as they are sampled',
      },
      // one long-lived connection per page, bounded by maxClients instead
      config: { rateLimit: false },
    },
    async (req, reply) => {
      if (clients >= maxClients) throw errors.unavailable(`too many dashboard connections (${maxClients})`);
      clients++;
      reply.hijack();
      const res = reply.raw;
      streams.add(res);
      res.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`retry: ${opts.retryMs ?? 2_000}\n\n${opts.feed.hello()}`);
      let wrote = Date.now();
      const unsubscribe = opts.feed.subscribe((chunk) => {
        wrote = Date.now();
        res.write(chunk);
      });
      const heartbeatMs = opts.heartbeatMs ?? 15_000;
      const heartbeat = setInterval(() => {
        if (Date.now() - wrote >= heartbeatMs) res.write(': keep-alive\n\n');
      }, heartbeatMs);
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        clients--;
        streams.delete(res);
        clearInterval(heartbeat);
        unsubscribe();
      };
      req.raw.on('close', close);
      res.on('error', close);
    },
  );
};
