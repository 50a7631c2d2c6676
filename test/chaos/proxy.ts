import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback that the chaos suite controls: `stall()` stops moving bytes in both
 * directions on every connection (sockets stay open, the kernel buffers fill, the peers see
 * silence — a network stall, not a reset); `resume()` lets them flow again. New connections made
 * during a stall are accepted and held the same way.
 */
export class StallProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();
  stalled = false;
  connections = 0;

  constructor(
    readonly port: number,
    readonly target: { host: string; port: number },
  ) {}

  async start(): Promise<void> {
    const s = createServer((client) => {
      this.connections++;
      const upstream = createConnection(this.target);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
        this.held.delete(client);
        this.held.delete(upstream);
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      // by hand, not pipe(): pipe resumes a paused source on 'drain', which would end a stall
      this.forward(client, upstream);
      this.forward(upstream, client);
    });
    s.listen(this.port, '127.0.0.1');
    await once(s, 'listening');
    this.server = s;
  }

  private readonly held = new Map<Socket, { to: Socket; chunks: Buffer[] }>();

  private forward(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (this.stalled) {
        // what arrived stays here, the source is read no further: the peer hears nothing
        from.pause();
        const h = this.held.get(from) ?? { to, chunks: [] };
        h.chunks.push(chunk);
        this.held.set(from, h);
        return;
      }
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => {
          if (!this.stalled) from.resume();
        });
      }
    });
  }

  stall(): void {
    this.stalled = true;
    for (const [a, b] of this.pairs) {
      a.pause();
      b.pause();
    }
  }

  resume(): void {
    this.stalled = false;
    for (const h of this.held.values()) for (const c of h.chunks) h.to.write(c);
    this.held.clear();
    for (const [a, b] of this.pairs) {
      a.resume();
      b.resume();
    }
  }

  async stop(): Promise<void> {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
