import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * An OpenAI-shaped /v1/embeddings endpoint in the harness's process: deterministic vectors from a
 * hash of the text, so the chaos suite measures the broker, the runtime and the stores rather than
 * the model (and two cores are not spent on inference). `down()` closes the listening socket and
 * every connection, as a stopped embedder process does (connection refused); `up()` listens again
 * on the same port.
 */
export class StubEmbedder {
  requests = 0;
  private server: Server | undefined;

  constructor(
    readonly port: number,
    readonly dims = 64,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  get isUp(): boolean {
    return this.server !== undefined;
  }

  async up(): Promise<void> {
    if (this.server) return;
    const s = createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    s.listen(this.port, '127.0.0.1');
    await once(s, 'listening');
    this.server = s;
  }

  async down(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  vector(text: string): number[] {
    const out: number[] = [];
    for (let block = 0; out.length < this.dims; block++) {
      const h = createHash('sha256').update(`${block}:${text}`).digest();
      for (const b of h) if (out.length < this.dims) out.push((b - 127.5) / 128);
    }
    return out;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', object: 'list', data: [{ id: 'chaos-stub', object: 'model' }] }));
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
    const input = (Array.isArray(body.input) ? body.input : [body.input]).map(String);
    this.requests++;
    const b64 = body.encoding_format === 'base64';
    const data = input.map((t, index) => {
      const v = Float32Array.from(this.vector(t));
      return {
        object: 'embedding',
        index,
        embedding: b64 ? Buffer.from(v.buffer).toString('base64') : Array.from(v),
      };
    });
    const tokens = input.reduce((s, t) => s + t.split(/\s+/).length + 2, 0);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        object: 'list',
        data,
        model: String(body.model),
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      }),
    );
  }
}
