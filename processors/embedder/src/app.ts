import { endianness } from 'node:os';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { type BatcherOptions, DynamicBatcher, QueueFullError } from './batcher.ts';
import type { SentenceModel } from './onnx-model.ts';
import type { TokenIds } from './tokenizer.ts';

/** OpenAI's limit on inputs per request. */
export const MAX_INPUTS = 2048;

export interface EmbedderAppOptions {
  models: SentenceModel[];
  /** Used when a request names no model; default: the first model. */
  defaultModel?: string;
  batcher?: BatcherOptions;
  /** Largest request body in bytes (default 8 MiB); larger bodies get 413. */
  bodyLimit?: number;
  logger?: boolean;
  /** Seconds clients are told to wait after a 429 (Retry-After). */
  retryAfterSeconds?: number;
  /** served on GET /metrics (a prom-client Registry: the process's telemetry) */
  metrics?: { contentType: string; metrics(): Promise<string> };
}

type ErrorType = 'invalid_request_error' | 'not_found_error' | 'rate_limit_error' | 'server_error';

/** An error answered with OpenAI's body shape: {error: {message, type, param, code}}. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ErrorType,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  body() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

const invalid = (message: string, param: string | null, code: string | null = 'invalid_value') =>
  new ApiError(400, message, 'invalid_request_error', param, code);

interface ParsedInput {
  /** Texts, or already tokenized ids (OpenAI's token-array form; ids are the model's WordPiece ids). */
  items: ({ text: string } | { ids: number[] })[];
}

function isIntArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isInteger(x));
}

/** Validate `input` the way OpenAI does: string | string[] | int[] | int[][], non-empty, ≤ 2048 items. */
export function parseInput(input: unknown): ParsedInput {
  if (input === undefined || input === null) {
    throw invalid("Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
  }
  if (typeof input === 'string') {
    if (input.length === 0) throw invalid("Invalid 'input': empty string is not allowed.", 'input');
    return { items: [{ text: input }] };
  }
  if (!Array.isArray(input)) {
    throw invalid("Invalid type for 'input': expected a string or an array.", 'input', 'invalid_type');
  }
  if (input.length === 0) throw invalid("Invalid 'input': empty array is not allowed.", 'input');
  if (input.length > MAX_INPUTS) {
    throw invalid(`Invalid 'input': at most ${MAX_INPUTS} inputs per request, got ${input.length}.`, 'input');
  }
  if (isIntArray(input)) return { items: [{ ids: input }] };
  const items: ParsedInput['items'] = [];
  input.forEach((x, i) => {
    if (typeof x === 'string') {
      if (x.length === 0) throw invalid(`Invalid 'input[${i}]': empty string is not allowed.`, `input[${i}]`);
      items.push({ text: x });
    } else if (isIntArray(x)) {
      if (x.length === 0) throw invalid(`Invalid 'input[${i}]': empty token array is not allowed.`, `input[${i}]`);
      items.push({ ids: x });
    } else {
      throw invalid(
        `Invalid type for 'input[${i}]': expected a string or an array of integers.`,
        `input[${i}]`,
        'invalid_type',
      );
    }
  });
  return { items };
}

/** float32 little-endian bytes, base64: what OpenAI returns for encoding_format=base64. */
export function toBase64(v: Float32Array): string {
  if (endianness() === 'LE') return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  const b = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) b.writeFloatLE(v[i]!, i * 4);
  return b.toString('base64');
}

export interface EmbedderApp extends FastifyInstance {
  /** Batcher per model name (tests read stats.modelCalls). */
  batchers: Map<string, DynamicBatcher>;
}

/** The embedder's HTTP API, without listening: `main.ts` listens, tests use inject(). */
export async function buildEmbedderApp(opts: EmbedderAppOptions): Promise<EmbedderApp> {
  if (opts.models.length === 0) throw new Error('buildEmbedderApp: no models');
  const models = new Map(opts.models.map((m) => [m.spec.name, m]));
  const defaultName = opts.defaultModel ?? opts.models[0]!.spec.name;
  if (!models.has(defaultName)) throw new Error(`default model ${defaultName} is not among the loaded models`);
  const batchers = new Map(opts.models.map((m) => [m.spec.name, new DynamicBatcher(m, opts.batcher)]));
  const created = Math.floor(Date.now() / 1000);
  const retryAfter = String(opts.retryAfterSeconds ?? 1);

  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: opts.bodyLimit ?? 8 * 1024 * 1024 });

  const find = (name: string): SentenceModel | undefined =>
    models.get(name) ?? [...models.values()].find((m) => m.spec.name.toLowerCase() === name.toLowerCase());

  const send = (reply: FastifyReply, e: ApiError) => {
    if (e.status === 429) void reply.header('retry-after', retryAfter);
    return reply.code(e.status).send(e.body());
  };

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof ApiError) return send(reply, err);
    if (err instanceof QueueFullError) {
      return send(reply, new ApiError(429, err.message, 'rate_limit_error', null, 'rate_limit_exceeded'));
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return send(
        reply,
        new ApiError(413, 'Request body too large.', 'invalid_request_error', null, 'request_too_large'),
      );
    }
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      // Malformed JSON, empty body, wrong content type…
      const message = err.code?.startsWith('FST_ERR_CTP')
        ? `We could not parse the JSON body of your request. (${err.message})`
        : err.message;
      return send(reply, new ApiError(err.statusCode, message, 'invalid_request_error'));
    }
    req.log.error(err);
    return send(reply, new ApiError(500, `The embedder failed: ${err.message}`, 'server_error'));
  });

  app.setNotFoundHandler((req, reply) =>
    send(
      reply,
      new ApiError(404, `Invalid URL (${req.method} ${req.url})`, 'invalid_request_error', null, 'not_found'),
    ),
  );

  const modelObject = (m: SentenceModel) => ({
    id: m.spec.name,
    object: 'model' as const,
    created,
    owned_by: 'feedlog',
    // Not in OpenAI's model object; extra fields are ignored by clients.
    dimensions: m.spec.dimensions,
    max_input_tokens: m.spec.maxTokens,
    upstream: m.spec.upstream,
  });

  app.get('/v1/models', async () => ({ object: 'list', data: [...models.values()].map(modelObject) }));

  app.get<{ Params: { id: string } }>('/v1/models/:id', async (req) => {
    const m = find(req.params.id);
    if (!m) throw modelNotFound(req.params.id);
    return modelObject(m);
  });

  app.get('/healthz', async () => ({
    status: 'ok',
    default_model: defaultName,
    models: Object.fromEntries([...batchers].map(([name, b]) => [name, b.stats])),
  }));

  // the app exists only once its models are loaded: listening means ready
  app.get('/readyz', async () => ({ status: 'ready', default_model: defaultName }));
  const metrics = opts.metrics;
  if (metrics)
    app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));

  app.post('/v1/embeddings', async (req) => {
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw invalid('We could not parse the JSON body of your request: expected a JSON object.', null, null);
    }
    const b = body as Record<string, unknown>;
    if (b.model !== undefined && typeof b.model !== 'string') {
      throw invalid("Invalid type for 'model': expected a string.", 'model', 'invalid_type');
    }
    const name = (b.model as string | undefined) || defaultName;
    const { items } = parseInput(b.input);
    const format = b.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') {
      throw invalid(
        `Invalid value for 'encoding_format': expected 'float' or 'base64', got ${JSON.stringify(format)}.`,
        'encoding_format',
      );
    }
    const model = find(name);
    if (!model) throw modelNotFound(name);
    if (b.dimensions !== undefined && b.dimensions !== null) {
      if (!Number.isInteger(b.dimensions) || (b.dimensions as number) < 1) {
        throw invalid("Invalid 'dimensions': expected a positive integer.", 'dimensions');
      }
      if (b.dimensions !== model.spec.dimensions) {
        // These models were not trained for Matryoshka truncation: a shortened vector is not a
        // valid embedding, so only the native size is accepted (as OpenAI does for ada-002).
        throw invalid(
          `This model does not support specifying dimensions other than its native ${model.spec.dimensions}.`,
          'dimensions',
        );
      }
    }
    if (b.user !== undefined && typeof b.user !== 'string') {
      throw invalid("Invalid type for 'user': expected a string.", 'user', 'invalid_type');
    }

    const rows: TokenIds[] = items.map((item, i) => {
      if ('text' in item) return model.tokenizer.encode(item.text);
      const bad = item.ids.find((id) => id < 0 || id >= model.tokenizer.vocabSize);
      if (bad !== undefined) {
        throw invalid(
          `Invalid 'input': token id ${bad} is outside the vocabulary of ${model.spec.name} (0..${model.tokenizer.vocabSize - 1}).`,
          items.length > 1 ? `input[${i}]` : 'input',
        );
      }
      return model.tokenizer.wrap(item.ids);
    });
    const vectors = await batchers.get(model.spec.name)!.embed(rows);
    const tokens = rows.reduce((n, r) => n + r.length, 0);
    return {
      object: 'list',
      data: vectors.map((v, index) => ({
        object: 'embedding',
        index,
        embedding: format === 'base64' ? toBase64(v) : Array.from(v),
      })),
      model: model.spec.name,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
  });

  app.addHook('onClose', async () => {
    await Promise.all(opts.models.map((m) => m.close()));
  });

  return Object.assign(app, { batchers }) as unknown as EmbedderApp;
}

function modelNotFound(name: string): ApiError {
  return new ApiError(
    404,
    `The model \`${name}\` does not exist or you do not have access to it.`,
    'invalid_request_error',
    'model',
    'model_not_found',
  );
}
