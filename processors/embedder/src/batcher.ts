import type { SentenceModel } from './onnx-model.ts';
import type { TokenIds } from './tokenizer.ts';

export interface BatcherOptions {
  /** Most rows in one model call (default 64). */
  maxBatch?: number;
  /** How long the first queued row waits for company before a partial batch runs (default 3 ms). */
  maxWaitMs?: number;
  /** Rows allowed to wait; beyond this enqueue() throws QueueFullError (default 8192). */
  maxQueued?: number;
}

export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

interface Item {
  row: TokenIds;
  resolve: (v: Float32Array) => void;
  reject: (e: Error) => void;
}

export interface BatcherStats {
  modelCalls: number;
  rows: number;
  queued: number;
  inFlight: number;
  /** Histogram of batch sizes: size → count. */
  batchSizes: Record<number, number>;
}

/**
 * Dynamic batching: rows from concurrent requests are merged into one model call. A batch runs as
 * soon as it is full, or maxWaitMs after its first row arrived, whichever comes first; at most
 * `model.parallelism` calls run at once, and rows that arrive meanwhile queue up and go together in
 * the next call (so under load batches grow by themselves and no timer is needed). What is queued
 * is spread over the free sessions, so a single large request also uses every core.
 * Rows are taken in arrival order, so one request's rows are never starved by later requests.
 */
export class DynamicBatcher {
  private readonly queue: Item[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly maxWaitMs: number;
  private readonly maxQueued: number;
  readonly stats: BatcherStats = { modelCalls: 0, rows: 0, queued: 0, inFlight: 0, batchSizes: {} };

  constructor(
    private readonly model: SentenceModel,
    opts: BatcherOptions = {},
  ) {
    this.maxBatch = Math.max(1, opts.maxBatch ?? 64);
    this.maxWaitMs = Math.max(0, opts.maxWaitMs ?? 3);
    this.maxQueued = Math.max(1, opts.maxQueued ?? 8192);
  }

  /** Embed rows (each already [CLS] … [SEP]); resolves in the same order. */
  embed(rows: readonly TokenIds[]): Promise<Float32Array[]> {
    if (this.queue.length + rows.length > this.maxQueued) {
      return Promise.reject(new QueueFullError(`embedding queue full (${this.queue.length} rows waiting)`));
    }
    const out = rows.map(
      (row) => new Promise<Float32Array>((resolve, reject) => this.queue.push({ row, resolve, reject })),
    );
    this.stats.queued = this.queue.length;
    this.pump();
    return Promise.all(out);
  }

  private pump(): void {
    while (this.inFlight < this.model.parallelism && this.queue.length > 0) {
      if (this.queue.length < this.maxBatch && this.inFlight === 0 && this.maxWaitMs > 0) {
        // Idle and not full: wait a little for more rows (only the first partial batch waits;
        // while a call runs, arrivals accumulate anyway).
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.flush();
        }, this.maxWaitMs);
        return;
      }
      this.flush();
    }
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.queue.length === 0 || this.inFlight >= this.model.parallelism) return;
    // Spread what is queued over the free sessions so one large request uses every core.
    const free = this.model.parallelism - this.inFlight;
    const size = Math.min(this.maxBatch, Math.ceil(this.queue.length / free));
    const batch = this.queue.splice(0, size);
    this.stats.queued = this.queue.length;
    this.inFlight++;
    this.stats.inFlight = this.inFlight;
    this.stats.modelCalls++;
    this.stats.rows += batch.length;
    this.stats.batchSizes[batch.length] = (this.stats.batchSizes[batch.length] ?? 0) + 1;
    this.model
      .embed(batch.map((i) => i.row))
      .then(
        (vectors) => {
          batch.forEach((item, i) => {
            item.resolve(vectors[i]!);
          });
        },
        (e: unknown) => {
          const err = e instanceof Error ? e : new Error(String(e));
          for (const item of batch) item.reject(err);
        },
      )
      .finally(() => {
        this.inFlight--;
        this.stats.inFlight = this.inFlight;
        this.pump();
      });
    // More rows than one batch and a free session: keep going.
    if (this.queue.length > 0) this.pump();
  }
}
