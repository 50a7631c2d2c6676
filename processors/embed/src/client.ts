import { performance } from 'node:perf_hooks';
import { type Breaker, BreakerOpenError, PoisonRecordError, RetriableError } from '@feedlog/runtime';
import { bytesToVector } from '@feedlog/schemas';
import {
  type BulkheadPolicy,
  bulkhead,
  ExponentialBackoff,
  fullJitterGenerator,
  handleWhen,
  type IBackoff,
  type IBackoffFactory,
  type IRetryBackoffContext,
  type RetryPolicy,
  retry,
} from 'cockatiel';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { Registry } from 'prom-client';
import { type CachedEmbedding, cacheModelId, type EmbeddingCache } from './cache.ts';
import type { EmbeddingSettings } from './config.ts';
import { type EmbedMetrics, embedMetrics } from './metrics.ts';

/** One text's embedding. */
export interface Embedding {
  vector: Float32Array;
  /** true when the vector has unit L2 norm (as sent, or after the stage normalised it) */
  normalized: boolean;
}

export interface EmbedBatchResult {
  /** per input, same order: the embedding, or a PoisonRecordError when the endpoint rejected that text alone */
  results: (Embedding | PoisonRecordError)[];
  /** the model the endpoint says it ran (first answer) */
  servedModel: string;
  promptTokens: number;
  requests: number;
  /** texts answered from the embedding cache (sent to no endpoint) */
  cacheHits: number;
}

export interface EmbedCallOptions {
  /** the stage's breaker for the endpoint: every attempt goes through it */
  breaker?: Breaker;
  /**
   * Stops retrying (the stage's shutdown signal). Requests already on the wire are left to finish,
   * so a graceful stop can still commit the batch it is in; the call then ends with a
   * RetriableError, which the runtime treats as "abandon the batch", never as a dead letter.
   */
  signal?: AbortSignal;
  /** cancels requests on the wire too (callers without a transaction to finish) */
  requestSignal?: AbortSignal;
}

/** The endpoint rejected the texts of a request (400/413/422 about the input): the texts' fault. */
export class BadInputError extends PoisonRecordError {}

/** The endpoint answered, but not with what was asked (count, dimensions, encoding). */
export class EndpointContractError extends Error {
  override name = 'EndpointContractError';
}

const UNIT_TOLERANCE = 1e-3;

/** Milliseconds the server asked to wait (`retry-after-ms`, `retry-after` seconds or HTTP date), if any. */
export function retryAfterMs(e: unknown, now = Date.now()): number | undefined {
  if (!(e instanceof APIError) || !e.headers) return undefined;
  const ms = e.headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '') {
    const v = Number.parseFloat(ms);
    if (Number.isFinite(v) && v >= 0) return v;
  }
  const ra = e.headers.get('retry-after');
  if (ra === null || ra.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(ra)) return Number.parseFloat(ra) * 1000;
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A failure that says nothing about the endpoint's health: the texts were refused. */
function isBadInput(e: unknown): boolean {
  if (!(e instanceof APIError) || e instanceof APIConnectionError) return false;
  if (e.status === 413 || e.status === 422) return true;
  if (e.status !== 400) return false;
  // a 400 about the model, the dimensions or the encoding is a configuration problem, not the texts'
  const param = e.param ?? '';
  return param === '' || param.startsWith('input');
}

/** metric label for a failed attempt */
function outcomeOf(e: unknown): string {
  if (e instanceof APIConnectionTimeoutError) return 'timeout';
  if (e instanceof APIUserAbortError) return 'aborted';
  if (e instanceof APIConnectionError) return 'connection';
  if (e instanceof APIError && typeof e.status === 'number') return `http_${e.status}`;
  if (e instanceof BadInputError) return 'bad_input';
  if (e instanceof EndpointContractError) return 'contract';
  return 'error';
}

/**
 * Backoff for the stage's retry policy: the server's Retry-After when it sent one (capped),
 * else exponential with full jitter (cockatiel's generator), capped.
 */
class RetryAfterBackoff implements IBackoffFactory<IRetryBackoffContext<unknown>> {
  private readonly expo: ExponentialBackoff<unknown>;
  constructor(private readonly s: Pick<EmbeddingSettings, 'initialBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'>) {
    this.expo = new ExponentialBackoff({
      generator: fullJitterGenerator,
      initialDelay: s.initialBackoffMs,
      maxDelay: s.maxBackoffMs,
    });
  }
  next(context: IRetryBackoffContext<unknown>): IBackoff<IRetryBackoffContext<unknown>> {
    return this.step(this.expo.next(), context);
  }
  private step(
    expo: IBackoff<unknown>,
    context: IRetryBackoffContext<unknown>,
  ): IBackoff<IRetryBackoffContext<unknown>> {
    const asked = 'error' in context.result ? retryAfterMs(context.result.error) : undefined;
    const duration = asked === undefined ? expo.duration : Math.min(asked, this.s.maxRetryAfterMs);
    return { duration, next: (c) => this.step(expo.next(c), c) };
  }
}

/**
 * The embed stage's side of an OpenAI-compatible `/v1/embeddings` endpoint, through the `openai`
 * client with its own retries switched off (`maxRetries: 0`): this class owns the policy so
 * that every attempt passes through the stage's circuit breaker (an outage opens it after a few
 * attempts instead of after each request has slept through its own private backoff), a retry
 * stops the moment the breaker opens, and retries are counted per cause.
 *
 * - `embed(texts)` splits the texts into requests of at most `batchSize` and runs them with at
 *   most `concurrency` in flight in this process (a cockatiel bulkhead shared by all callers, so
 *   all partitions of a stage together keep that many requests open).
 * - 408/409/429/5xx, timeouts, refused or reset connections, 401/403/404 and 400s about the
 *   model or dimensions (a misconfigured or broken endpoint is not the records' fault) are retried
 *   up to `maxAttempts` with backoff that honours `Retry-After`/`retry-after-ms`; each attempt
 *   counts as a failure in the breaker. An open breaker ends the call with BreakerOpenError (the
 *   runtime then pauses the partition; nothing is dead-lettered); attempts running out without it
 *   opening end it with a RetriableError.
 * - 400/413/422 about the input are the texts' fault: the request is bisected until the refused
 *   texts stand alone, which then get a BadInputError (a PoisonRecordError: dead-lettered alone).
 * - Vectors are requested as base64 (little-endian float32, what the client asks for by default)
 *   and copied straight into Float32Arrays; plain float arrays are accepted too (some servers
 *   ignore encoding_format). A vector that is not unit-length is L2-normalised (cosine unchanged).
 */
export class EmbeddingClient {
  readonly openai: OpenAI;
  readonly metrics: EmbedMetrics;
  private readonly bulkhead: BulkheadPolicy;
  private readonly retry: RetryPolicy;
  private dims: number | undefined;
  private active = 0;
  /** embeddings kept across runs and processes, keyed by `cacheModel` and the text; none when undefined */
  readonly cache: EmbeddingCache | undefined;
  readonly cacheModel: string;

  constructor(
    readonly settings: EmbeddingSettings,
    opts: { registry?: Registry; openai?: OpenAI; cache?: EmbeddingCache } = {},
  ) {
    this.cache = opts.cache;
    this.cacheModel = cacheModelId(settings);
    this.openai =
      opts.openai ??
      new OpenAI({ baseURL: settings.baseUrl, apiKey: settings.apiKey, maxRetries: 0, timeout: settings.timeoutMs });
    this.metrics = embedMetrics(opts.registry);
    this.bulkhead = bulkhead(settings.concurrency, Number.POSITIVE_INFINITY);
    this.retry = retry(
      handleWhen((e) => !(e instanceof BreakerOpenError) && !(e instanceof PoisonRecordError) && !isAbortLike(e)),
      { maxAttempts: Math.max(0, settings.maxAttempts - 1), backoff: new RetryAfterBackoff(settings) },
    );
    this.retry.onRetry((r) => {
      if ('error' in r) this.metrics.retries.inc({ model: settings.model, reason: outcomeOf(r.error) });
    });
    if (settings.dimensions !== undefined) this.dims = settings.dimensions;
  }

  /** requests on the wire now (≤ concurrency) */
  get inFlight(): number {
    return this.active;
  }

  /** the output size, once known (configured, or from the first answer) */
  get dimensions(): number | undefined {
    return this.dims;
  }

  /**
   * Embed any number of texts: requests of ≤ batchSize, ≤ concurrency in flight. With a cache,
   * texts it holds for this model are answered from it, each distinct missing text is sent once,
   * and what comes back is stored. A failing cache is counted (`embedding_cache_errors_total`)
   * and bypassed: it may cost work, never a batch.
   */
  async embed(texts: string[], opts: EmbedCallOptions = {}): Promise<EmbedBatchResult> {
    if (!this.cache || texts.length === 0) return this.embedUncached(texts, opts);
    const { model } = this.settings;
    const cached = await this.cache.getMany(this.cacheModel, texts).catch((e: unknown) => {
      this.metrics.cacheErrors.inc({ model, op: 'get', error: (e as Error)?.name ?? 'Error' });
      return new Array<CachedEmbedding | undefined>(texts.length);
    });
    const out: EmbedBatchResult = {
      results: new Array(texts.length),
      servedModel: '',
      promptTokens: 0,
      requests: 0,
      cacheHits: 0,
    };
    const missing = new Map<string, number[]>();
    for (const [i, text] of texts.entries()) {
      const c = cached[i];
      if (c && (this.dims === undefined || c.vector.length === this.dims) && c.vector.length > 0) {
        this.dims ??= c.vector.length;
        out.results[i] = { vector: c.vector, normalized: c.normalized };
        out.servedModel ||= c.servedModel;
        out.cacheHits++;
      } else {
        const at = missing.get(text);
        if (at) at.push(i);
        else missing.set(text, [i]);
      }
    }
    this.metrics.cacheHits.inc({ model }, out.cacheHits);
    this.metrics.cacheMisses.inc({ model }, texts.length - out.cacheHits);
    if (missing.size === 0) return out;
    const todo = [...missing.keys()];
    const r = await this.embedUncached(todo, opts);
    out.servedModel = r.servedModel || out.servedModel;
    out.promptTokens = r.promptTokens;
    out.requests = r.requests;
    const fresh: { text: string; embedding: CachedEmbedding }[] = [];
    for (const [j, text] of todo.entries()) {
      const e = r.results[j] as Embedding | PoisonRecordError;
      const [first, ...dups] = missing.get(text) as number[];
      out.results[first as number] = e;
      // each record gets a vector of its own (a caller may normalise or reuse it in place)
      for (const i of dups)
        out.results[i] = e instanceof Error ? e : { vector: Float32Array.from(e.vector), normalized: e.normalized };
      if (!(e instanceof Error)) fresh.push({ text, embedding: { ...e, servedModel: r.servedModel || model } });
    }
    await this.cache.putMany(this.cacheModel, fresh).catch((e: unknown) => {
      this.metrics.cacheErrors.inc({ model, op: 'put', error: (e as Error)?.name ?? 'Error' });
    });
    return out;
  }

  private async embedUncached(texts: string[], opts: EmbedCallOptions): Promise<EmbedBatchResult> {
    const out: EmbedBatchResult = {
      results: new Array(texts.length),
      servedModel: '',
      promptTokens: 0,
      requests: 0,
      cacheHits: 0,
    };
    const size = this.settings.batchSize;
    const chunks: number[][] = [];
    for (let i = 0; i < texts.length; i += size) chunks.push(range(i, Math.min(texts.length, i + size)));
    await Promise.all(chunks.map((c) => this.embedChunk(texts, c, out, opts)));
    return out;
  }

  /** one request for `idx`; bisected when the endpoint refuses the input */
  private async embedChunk(texts: string[], idx: number[], out: EmbedBatchResult, opts: EmbedCallOptions) {
    try {
      const r = await this.call(
        idx.map((i) => texts[i] as string),
        opts,
      );
      for (const [j, i] of idx.entries()) out.results[i] = r.embeddings[j] as Embedding;
      out.servedModel ||= r.model;
      out.promptTokens += r.promptTokens;
      out.requests++;
    } catch (e) {
      if (!(e instanceof BadInputError)) throw e;
      if (idx.length === 1) {
        out.results[idx[0] as number] = e;
        return;
      }
      const mid = idx.length >> 1;
      await Promise.all([
        this.embedChunk(texts, idx.slice(0, mid), out, opts),
        this.embedChunk(texts, idx.slice(mid), out, opts),
      ]);
    }
  }

  /** one request with retries, each attempt through the breaker and the bulkhead */
  private async call(
    input: string[],
    opts: EmbedCallOptions,
  ): Promise<{ embeddings: Embedding[]; model: string; promptTokens: number }> {
    const { model } = this.settings;
    const attempt = async () => {
      const t0 = performance.now();
      const scope = scopedSignal(opts.requestSignal);
      try {
        const r = await this.bulkhead.execute(async () => {
          this.active++;
          try {
            return await this.openai.embeddings.create(
              {
                model,
                input,
                encoding_format: 'base64',
                ...(this.settings.dimensions !== undefined ? { dimensions: this.settings.dimensions } : {}),
              },
              scope.signal ? { signal: scope.signal } : {},
            );
          } finally {
            this.active--;
          }
        });
        const embeddings = this.decode(r.data, input.length);
        const promptTokens = r.usage?.prompt_tokens ?? 0;
        this.metrics.requests.inc({ model, outcome: 'ok' });
        this.metrics.requestSeconds.observe({ model }, (performance.now() - t0) / 1000);
        this.metrics.tokens.inc({ model }, promptTokens);
        this.metrics.inputs.inc({ model }, input.length);
        return { embeddings, model: r.model || model, promptTokens };
      } catch (e) {
        this.metrics.requests.inc({ model, outcome: outcomeOf(e) });
        // the texts' fault: not a failure of the endpoint, so the breaker must not count it
        if (isBadInput(e))
          throw new BadInputError(`the endpoint refused the input: ${(e as Error).message}`, { cause: e });
        throw e;
      } finally {
        scope.done();
      }
    };
    try {
      return await this.retry.execute(() => (opts.breaker ? opts.breaker.run(attempt) : attempt()), opts.signal);
    } catch (e) {
      if (e instanceof BreakerOpenError || e instanceof PoisonRecordError) throw e;
      // cancelled or stopping: retriable, so the runtime abandons the batch (uncommitted) instead of dead-lettering it
      if (isAbortLike(e) || opts.signal?.aborted || opts.requestSignal?.aborted)
        throw new RetriableError(`embedding cancelled: ${(e as Error)?.message ?? e}`, { cause: e });
      throw new RetriableError(
        `embedding endpoint failed ${this.settings.maxAttempts} times: ${(e as Error)?.message ?? e}`,
        { cause: e },
      );
    }
  }

  private decode(data: { embedding: unknown; index: number }[], n: number): Embedding[] {
    if (!Array.isArray(data) || data.length !== n) {
      throw new EndpointContractError(`asked for ${n} embeddings, got ${Array.isArray(data) ? data.length : 'none'}`);
    }
    const out: Embedding[] = new Array(n);
    for (const d of data) {
      const at = d.index;
      if (!Number.isInteger(at) || at < 0 || at >= n || out[at]) {
        throw new EndpointContractError(`embedding index ${at} out of range or repeated`);
      }
      let v: Float32Array;
      if (typeof d.embedding === 'string') v = bytesToVector(Buffer.from(d.embedding, 'base64'));
      else if (Array.isArray(d.embedding)) v = Float32Array.from(d.embedding as number[]);
      else throw new EndpointContractError(`embedding ${at} is neither base64 nor an array`);
      this.dims ??= v.length;
      if (v.length !== this.dims || v.length === 0) {
        throw new EndpointContractError(`embedding ${at} has ${v.length} dimensions, expected ${this.dims}`);
      }
      out[at] = unit(v);
    }
    return out;
  }
}

/**
 * A signal of its own for one request, aborted with `parent`. The openai client adds an abort
 * listener to the signal it is given and never removes it; the stage's signal lives as long as the
 * partition, so handing it over directly would pile up one listener (and its AbortController) per
 * request. This one is dropped after the request, and its listener on `parent` with it.
 */
function scopedSignal(parent: AbortSignal | undefined): { signal: AbortSignal | undefined; done(): void } {
  if (!parent) return { signal: undefined, done() {} };
  const c = new AbortController();
  if (parent.aborted) c.abort(parent.reason);
  const on = () => c.abort(parent.reason);
  parent.addEventListener('abort', on, { once: true });
  return { signal: c.signal, done: () => parent.removeEventListener('abort', on) };
}

/** the call was cancelled (stage shutdown): neither retried nor counted against the endpoint */
function isAbortLike(e: unknown): boolean {
  return e instanceof APIUserAbortError || (e as Error)?.name === 'AbortError';
}

function range(a: number, b: number): number[] {
  const r: number[] = new Array(b - a);
  for (let i = a; i < b; i++) r[i - a] = i;
  return r;
}

/** the vector as is when it is unit-length, else L2-normalised; a zero vector stays as is (not normalised) */
export function unit(v: Float32Array): Embedding {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] as number) * (v[i] as number);
  const norm = Math.sqrt(s);
  if (Math.abs(norm - 1) <= UNIT_TOLERANCE) return { vector: v, normalized: true };
  if (norm === 0 || !Number.isFinite(norm)) return { vector: v, normalized: false };
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) / norm;
  return { vector: v, normalized: true };
}
