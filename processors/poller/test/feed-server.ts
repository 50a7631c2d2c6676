import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';

/** What the loopback feed server does for one path. */
export type Behaviour =
  | { kind: 'feed'; body: Buffer; etag?: boolean; lastModified?: string; type?: string; lengthOn304?: boolean }
  | { kind: 'encoded'; body: Buffer; encoding: 'gzip' | 'deflate' | 'br' | 'gzip-no-header' }
  | { kind: 'status'; status: number; headers?: Record<string, string> }
  | { kind: 'redirect'; status: 301 | 302 | 307 | 308; to: string }
  | { kind: 'slow'; body: Buffer; chunkEveryMs: number };

/** A loopback HTTP server serving feeds with the behaviours the poller must handle; counts hits per path. */
export class FeedServer {
  readonly hits = new Map<string, number>();
  private readonly routes = new Map<string, Behaviour>();
  private server!: Server;
  base = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  route(path: string, b: Behaviour): string {
    this.routes.set(path, b);
    return `${this.base}${path}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
    const b = this.routes.get(path);
    if (!b) return void res.writeHead(404).end('not found');
    switch (b.kind) {
      case 'feed': {
        const etag = `"${createHash('sha1').update(b.body).digest('hex').slice(0, 16)}"`;
        const headers: Record<string, string> = {
          'content-type': b.type ?? 'application/rss+xml',
          'content-length': String(b.body.length),
        };
        if (b.etag) headers.etag = etag;
        if (b.lastModified) headers['last-modified'] = b.lastModified;
        if (
          (b.etag && req.headers['if-none-match'] === etag) ||
          (b.lastModified && req.headers['if-modified-since'] === b.lastModified)
        ) {
          // a 304 has no body: no Content-Length either
          const { 'content-length': _, ...rest } = headers;
          return void res.writeHead(304, b.lengthOn304 ? headers : rest).end();
        }
        return void res.writeHead(200, headers).end(b.body);
      }
      case 'encoded': {
        const body =
          b.encoding === 'br'
            ? brotliCompressSync(b.body)
            : b.encoding === 'deflate'
              ? deflateSync(b.body)
              : gzipSync(b.body);
        const headers: Record<string, string> = { 'content-type': 'application/xml' };
        if (b.encoding !== 'gzip-no-header') headers['content-encoding'] = b.encoding;
        return void res.writeHead(200, headers).end(body);
      }
      case 'status':
        return void res.writeHead(b.status, b.headers ?? {}).end(`status ${b.status}`);
      case 'redirect':
        return void res.writeHead(b.status, { location: b.to }).end();
      case 'slow': {
        res.writeHead(200, { 'content-type': 'application/xml' });
        let i = 0;
        const timer = setInterval(() => {
          if (i >= b.body.length || res.destroyed) {
            clearInterval(timer);
            res.end();
            return;
          }
          res.write(b.body.subarray(i, i + 16));
          i += 16;
        }, b.chunkEveryMs);
        res.on('close', () => clearInterval(timer));
      }
    }
  }
}
