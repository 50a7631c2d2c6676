import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import OpenAI from 'openai';

/** Turns a query into a vector with the model the serving generation was built with. */
export interface QueryEmbedder {
  embed(text: string, model: string): Promise<Float32Array>;
  /** throws when the endpoint does not answer */
  check(): Promise<void>;
}

/** Any OpenAI-compatible /v1/embeddings (the local embedder, OpenAI, vLLM, TEI…) through the openai client. */
export class OpenAIEmbedder implements QueryEmbedder {
  private readonly client: OpenAI;
  constructor(baseURL: string, apiKey = 'unused', timeoutMs = 5_000) {
    this.client = new OpenAI({ baseURL, apiKey, timeout: timeoutMs, maxRetries: 1 });
  }
  async embed(text: string, model: string): Promise<Float32Array> {
    const r = await this.client.embeddings.create({ model, input: [text] });
    const v = r.data[0]?.embedding;
    if (!v) throw new Error('the embedder answered without an embedding');
    return Float32Array.from(v);
  }
  async check(): Promise<void> {
    await this.client.models.list();
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    embedder: QueryEmbedder | undefined;
  }
}

export const embedderPlugin = fp<{ embedder?: QueryEmbedder }>(
  async (app: FastifyInstance, opts) => {
    app.decorate('embedder', opts.embedder);
  },
  { name: 'feedlog-embedder' },
);
