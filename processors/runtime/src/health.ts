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

export interface StageHealth {
  stage: string;
  groupId: string;
  status: StageStatus;
  /** the process is worth keeping (not failed) */
  live: boolean;
  /** joined its group and consuming */
  ready: boolean;
  partitions: PartitionHealth[];
  breakers: Record<string, string>;
  error?: string;
}

/** `/healthz` (liveness) and `/readyz` (readiness) for an orchestrator; JSON bodies. */
export function serveHealth(health: () => StageHealth, port: number, host = '127.0.0.1'): Promise<Server> {
  const server = createServer((req, res) => {
    const h = health();
    const ok = req.url === '/readyz' ? h.ready : req.url === '/healthz' ? h.live : undefined;
    if (ok === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(h));
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}
