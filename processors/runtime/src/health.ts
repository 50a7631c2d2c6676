import { createServer, type Server } from 'node:http';

export type StageStatus = 'starting' | 'ready' | 'stopping' | 'stopped' | 'failed';

export interface PartitionHealth {
  topic: string;
  partition: number;
  buffered: number;
  paused: boolean;
  nextOffset: number;
  /** records between the last commit and the log end, -1 when unknown */
  lag: number;
  committedBatches: number;
  lastCommitAt: number | null;
}

/** What every feedlog process says of itself on /healthz and /readyz (a stage says more: StageHealth). */
export interface ServiceHealth {
  status: StageStatus;
  /** the process is worth keeping (not failed) */
  live: boolean;
  /** ready for work: joined its group, or listening with its dependencies answering */
  ready: boolean;
  error?: string;
}

export interface StageHealth extends ServiceHealth {
  stage: string;
  groupId: string;
  partitions: PartitionHealth[];
  breakers: Record<string, string>;
}

export interface HealthServerOptions {
  /** loopback unless told otherwise */
  host?: string;
  /** GET /metrics on the same port (e.g. a prom-client registry's text format) */
  metrics?: () => Promise<{ contentType: string; body: string }>;
}

/**
 * `/healthz` (liveness), `/readyz` (readiness), JSON bodies, 200 or 503; with `metrics`, `/metrics`
 * too. Loopback unless told otherwise (a health port is for the local orchestrator, not the network).
 */
export function serveHealth(
  health: () => ServiceHealth | Promise<ServiceHealth>,
  port: number,
  hostOrOpts: string | HealthServerOptions = {},
): Promise<Server> {
  const opts = typeof hostOrOpts === 'string' ? { host: hostOrOpts } : hostOrOpts;
  const server = createServer((req, res) => {
    const answer = async () => {
      if (req.url === '/metrics' && opts.metrics) {
        const m = await opts.metrics();
        res.writeHead(200, { 'content-type': m.contentType }).end(m.body);
        return;
      }
      if (req.url !== '/readyz' && req.url !== '/healthz') {
        res.writeHead(404).end();
        return;
      }
      const h = await health();
      const ok = req.url === '/readyz' ? h.ready : h.live;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(h));
    };
    answer().catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String((e as Error)?.message ?? e));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, opts.host ?? '127.0.0.1', () => resolve(server));
  });
}
