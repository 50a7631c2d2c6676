// A fast OpenAI-compatible embeddings stub: POST /v1/embeddings answers deterministic unit vectors
// built like a bag of words: each word's hash seeds a xorshift generator that draws that word's
// vector, and a text's vector is the normalised sum of its words' vectors. Same text → same vector,
// and headlines that share words are near each other, as with a real model: random vectors (one
// seed per whole text) made usearch's inserts 3.1× dearer than realistic ones and measured the
// index on a distribution no model produces.
//   npx tsx bench/src/e2e/stub-embedder.ts [--port 28190] [--dimensions 384]
import { createServer, type Server } from 'node:http';

function addWordVector(word: string, out: Float32Array): void {
  let h = 2166136261;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619);
  let x = h >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i]! += x / 4294967296 - 0.5;
  }
}

export function stubVector(text: string, dims: number): Float32Array {
  const v = new Float32Array(dims);
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [text];
  for (const w of words) addWordVector(w, v);
  let norm = 0;
  for (let i = 0; i < dims; i++) norm += v[i]! * v[i]!;
  const s = 1 / Math.sqrt(norm || 1);
  for (let i = 0; i < dims; i++) v[i]! *= s;
  return v;
}

interface EmbeddingsRequest {
  input?: unknown;
  model?: unknown;
  encoding_format?: unknown;
}

export function startStubEmbedder(port: number, dims = 384): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/healthz' || req.url === '/v1/models')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: EmbeddingsRequest;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as EmbeddingsRequest;
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"invalid JSON"}}');
        return;
      }
      const input = typeof body.input === 'string' ? [body.input] : body.input;
      if (!Array.isArray(input) || input.some((t) => typeof t !== 'string')) {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"input: strings"}}');
        return;
      }
      const base64 = body.encoding_format === 'base64';
      const data = (input as string[]).map((t, index) => {
        const v = stubVector(t, dims);
        return {
          object: 'embedding',
          index,
          embedding: base64 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v),
        };
      });
      const tokens = (input as string[]).reduce((s, t) => s + Math.ceil(t.length / 4), 0);
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          object: 'list',
          model: typeof body.model === 'string' ? body.model : 'stub',
          data,
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        }),
      );
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const opt = (n: string, d: string) => (args.includes(n) ? (args[args.indexOf(n) + 1] ?? d) : d);
  const port = Number(opt('--port', '28190'));
  await startStubEmbedder(port, Number(opt('--dimensions', '384')));
  process.stderr.write(`stub embedder on http://127.0.0.1:${port}/v1\n`);
}
