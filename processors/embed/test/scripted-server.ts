import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const DIMS = 8;

/** A deterministic, non-unit fake embedding of a text (so the client's normalisation is visible). */
export function fakeVector(text: string): Float32Array {
  const h = createHash('sha256').update(text).digest();
  return Float32Array.from({ length: DIMS }, (_, i) => ((h[i] as number) - 128) / 16 + (i === 0 ? 3 : 0));
}

/** status + headers + body for this request, or undefined to answer normally */
export type Scripted = (req: {
  n: number;
  input: string[];
  body: Record<string, unknown>;
}) => { status: number; headers?: Record<string, string>; body?: unknown } | undefined;

export interface RequestLog {
  at: number;
  input: string[];
  status: number;
  body: Record<string, unknown>;
}

/**
 * An OpenAI-shaped /v1/embeddings server whose answers a test scripts (429 with Retry-After, 5xx,
 * 400 about one input, floats instead of base64…). Answers normally otherwise: fakeVector per text,
 * as base64 when asked, usage.prompt_tokens = words + 2 per text.
 */
export class ScriptedServer {
  readonly log: RequestLog[] = [];
  inFlight = 0;
  maxInFlight = 0;
  script: Scripted = () => undefined;
  /** delay before answering (ms) */
  delayMs = 0;
  private server: Server;

  private constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(port = 0): Promise<ScriptedServer> {
    const s = new ScriptedServer();
    s.server.listen(port, '127.0.0.1');
    await once(s.server, 'listening');
    return s;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
    const input = (Array.isArray(body.input) ? body.input : [body.input]) as string[];
    const n = this.log.length;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    this.inFlight--;
    const scripted = this.script({ n, input, body });
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      this.log.push({ at: Date.now(), input, status, body });
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };
    if (scripted) {
      const err = { error: { message: `scripted ${scripted.status}`, type: 'scripted', param: null, code: null } };
      return send(scripted.status, scripted.body ?? err, scripted.headers);
    }
    const b64 = body.encoding_format === 'base64';
    const data = input.map((t, index) => {
      const v = fakeVector(t);
      return {
        object: 'embedding',
        index,
        embedding: b64 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v),
      };
    });
    const tokens = input.reduce((s, t) => s + t.split(/\s+/).filter(Boolean).length + 2, 0);
    send(200, {
      object: 'list',
      data,
      model: String(body.model),
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }
}
