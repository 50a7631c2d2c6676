import { Agent, type Dispatcher, RetryAgent, request, errors as undiciErrors } from 'undici';

/** One feed item as POST /v1/items takes it. */
export interface FeedItemInput {
  source: string;
  url: string;
  title: string;
  guid?: string | null;
  summary?: string | null;
  /** RFC 3339 date-time (a Date or epoch milliseconds are converted) */
  published_at?: string | Date | number | null;
}

export interface ItemProblem {
  index: number | null;
  field: string | null;
  message: string;
}

export type ItemResult = { ok: true; item_id: string; job_id: string } | { ok: false; problems: ItemProblem[] };

export interface PushResult {
  /** per input item, in input order */
  items: ItemResult[];
  jobIds: string[];
  accepted: number;
  rejected: number;
}

export interface BatchReport {
  size: number;
  accepted: number;
  rejected: number;
  jobId: string | null;
  ms: number;
}

export interface FeedlogClientOptions {
  /** e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  apiKey?: string;
  /** items per request (default 500, the API's maximum) */
  batchSize?: number;
  /** how long a partial batch waits for more items before it is sent, ms (default 20) */
  lingerMs?: number;
  /** requests in flight at once (default 2) */
  concurrency?: number;
  /** send with ?partial=true: the valid items of a batch are accepted, the others reported */
  partial?: boolean;
  /** retries on 429, 5xx and network errors (default 8); Retry-After is honoured */
  maxRetries?: number;
  /** first backoff, ms (default 200; doubles each retry up to maxBackoffMs) */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** per request, ms (default 30 s) */
  timeoutMs?: number;
  onBatch?: (r: BatchReport) => void;
  dispatcher?: Dispatcher;
}

/** The API answered with a 4xx the client cannot fix by retrying (or retries ran out). */
export class FeedlogApiError extends Error {
  override name = 'FeedlogApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
  ) {
    super(`${status} ${code}: ${message}`);
  }
}

interface Pending {
  item: FeedItemInput;
  settle: (r: ItemResult) => void;
  fail: (e: Error) => void;
}

function toWire(item: FeedItemInput): Record<string, unknown> {
  const out: Record<string, unknown> = { source: item.source, url: item.url, title: item.title };
  if (item.guid !== undefined) out.guid = item.guid;
  if (item.summary !== undefined) out.summary = item.summary;
  const p = item.published_at;
  if (p !== undefined) out.published_at = p === null ? null : typeof p === 'string' ? p : new Date(p).toISOString();
  return out;
}

/**
 * A typed producer client for POST /v1/items: items are batched by size and linger, sent
 * `concurrency` requests at a time, and each request is retried with exponential backoff on
 * 429, 5xx and network errors (undici's RetryAgent, honouring Retry-After). Item ids are stable,
 * so a retried batch that the API had in fact accepted creates no duplicates downstream.
 */
export class FeedlogClient {
  private readonly o: Required<Omit<FeedlogClientOptions, 'apiKey' | 'onBatch' | 'dispatcher'>> &
    Pick<FeedlogClientOptions, 'apiKey' | 'onBatch'>;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private buffer: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly waiting: Pending[][] = [];
  private active = 0;
  private idle: (() => void)[] = [];

  constructor(opts: FeedlogClientOptions) {
    this.o = {
      baseUrl: opts.baseUrl.replace(/\/+$/, ''),
      apiKey: opts.apiKey,
      batchSize: opts.batchSize ?? 500,
      lingerMs: opts.lingerMs ?? 20,
      concurrency: opts.concurrency ?? 2,
      partial: opts.partial ?? false,
      maxRetries: opts.maxRetries ?? 8,
      minBackoffMs: opts.minBackoffMs ?? 200,
      maxBackoffMs: opts.maxBackoffMs ?? 10_000,
      timeoutMs: opts.timeoutMs ?? 30_000,
      onBatch: opts.onBatch,
    };
    if (!(this.o.batchSize > 0 && this.o.concurrency > 0))
      throw new RangeError('batchSize and concurrency must be > 0');
    this.ownsDispatcher = !opts.dispatcher;
    this.dispatcher = new RetryAgent(opts.dispatcher ?? new Agent({ keepAliveTimeout: 10_000 }), {
      maxRetries: this.o.maxRetries,
      minTimeout: this.o.minBackoffMs,
      maxTimeout: this.o.maxBackoffMs,
      timeoutFactor: 2,
      methods: ['POST'],
      statusCodes: [429, 500, 502, 503, 504],
      errorCodes: [
        'ECONNRESET',
        'ECONNREFUSED',
        'ENOTFOUND',
        'ENETDOWN',
        'ENETUNREACH',
        'EHOSTDOWN',
        'EHOSTUNREACH',
        'EPIPE',
        'UND_ERR_SOCKET',
      ],
    });
  }

  /** Queue items; resolves when every one of them was accepted or rejected by the API. */
  pushItems(items: readonly FeedItemInput[]): Promise<PushResult> {
    if (items.length === 0) return Promise.resolve({ items: [], jobIds: [], accepted: 0, rejected: 0 });
    return new Promise<PushResult>((resolve, reject) => {
      const results: ItemResult[] = new Array(items.length);
      let left = items.length;
      let failed = false;
      for (const [i, item] of items.entries()) {
        this.buffer.push({
          item,
          settle: (r) => {
            results[i] = r;
            if (--left === 0 && !failed) {
              const ok = results.filter((x): x is Extract<ItemResult, { ok: true }> => x.ok);
              resolve({
                items: results,
                jobIds: [...new Set(ok.map((x) => x.job_id))],
                accepted: ok.length,
                rejected: results.length - ok.length,
              });
            }
          },
          fail: (e) => {
            if (!failed) reject(e);
            failed = true;
          },
        });
      }
      this.schedule();
    });
  }

  /** Send what is buffered now and wait until nothing is in flight. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.buffer.length) this.enqueue(this.buffer.splice(0, this.o.batchSize));
    if (this.active === 0 && this.waiting.length === 0) return;
    await new Promise<void>((r) => this.idle.push(r));
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private schedule(): void {
    while (this.buffer.length >= this.o.batchSize) this.enqueue(this.buffer.splice(0, this.o.batchSize));
    if (this.buffer.length && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.buffer.length) this.enqueue(this.buffer.splice(0, this.o.batchSize));
      }, this.o.lingerMs);
    }
  }

  private enqueue(batch: Pending[]): void {
    this.waiting.push(batch);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.o.concurrency && this.waiting.length) {
      const batch = this.waiting.shift()!;
      this.active++;
      this.send(batch)
        .catch((e: unknown) => {
          for (const p of batch) p.fail(e as Error);
        })
        .finally(() => {
          this.active--;
          this.pump();
          if (this.active === 0 && this.waiting.length === 0) for (const r of this.idle.splice(0)) r();
        });
    }
  }

  private async send(batch: Pending[]): Promise<void> {
    const t0 = performance.now();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.o.apiKey) headers['x-api-key'] = this.o.apiKey;
    let status: number;
    let body: {
      job_id?: string;
      items?: { index: number; item_id: string }[];
      rejected?: ItemProblem[];
      error?: string;
      message?: string;
      details?: unknown;
    };
    try {
      const res = await request(`${this.o.baseUrl}/v1/items${this.o.partial ? '?partial=true' : ''}`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ items: batch.map((p) => toWire(p.item)) }),
        dispatcher: this.dispatcher,
        headersTimeout: this.o.timeoutMs,
        bodyTimeout: this.o.timeoutMs,
      });
      status = res.statusCode;
      body = (await res.body.json().catch(() => ({}))) as typeof body;
    } catch (e) {
      if (e instanceof undiciErrors.RequestRetryError) {
        throw new FeedlogApiError(
          e.statusCode,
          'retries_exhausted',
          `gave up after ${this.o.maxRetries} retries`,
          null,
        );
      }
      throw e;
    }
    if (status !== 202) {
      if (status === 400 && body.error === 'invalid_items') {
        // the whole batch was refused: report each item's problems, accept nothing
        const byIndex = new Map<number, ItemProblem[]>();
        for (const p of (body.details as ItemProblem[]) ?? []) {
          if (p.index === null) continue;
          byIndex.set(p.index, [...(byIndex.get(p.index) ?? []), p]);
        }
        for (const [i, p] of batch.entries()) {
          p.settle({
            ok: false,
            problems: byIndex.get(i) ?? [
              { index: i, field: null, message: 'batch refused (another item was invalid)' },
            ],
          });
        }
        this.o.onBatch?.({
          size: batch.length,
          accepted: 0,
          rejected: batch.length,
          jobId: null,
          ms: performance.now() - t0,
        });
        return;
      }
      throw new FeedlogApiError(
        status,
        body.error ?? 'http_error',
        body.message ?? `HTTP ${status}`,
        body.details ?? null,
      );
    }
    const jobId = body.job_id!;
    const accepted = new Map((body.items ?? []).map((x) => [x.index, x.item_id]));
    const rejected = new Map<number, ItemProblem[]>();
    for (const p of body.rejected ?? [])
      if (p.index !== null) rejected.set(p.index, [...(rejected.get(p.index) ?? []), p]);
    batch.forEach((p, i) => {
      const id = accepted.get(i);
      p.settle(id ? { ok: true, item_id: id, job_id: jobId } : { ok: false, problems: rejected.get(i) ?? [] });
    });
    this.o.onBatch?.({
      size: batch.length,
      accepted: accepted.size,
      rejected: batch.length - accepted.size,
      jobId,
      ms: performance.now() - t0,
    });
  }
}
