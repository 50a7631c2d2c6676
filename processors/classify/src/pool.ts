import { Worker } from 'node:worker_threads';
import { RetriableError } from '@feedlog/runtime';
import type { ClassifierModel } from './model.ts';

/**
 * What a pool thread is given once (workerData): the model's header and weights, copied, so each
 * thread scores with the same artifact as the stage's own model.
 */
export interface PoolWorkerData {
  header: ClassifierModel['header'];
  weights: ClassifierModel['weights'];
}

/** A job: the texts end to end in one string, `lengths[i]` characters each (one copy, no array of strings). */
export interface PoolJob {
  id: number;
  text: string;
  lengths: Uint32Array;
}

/** A job's answer: per text, the label index and its confidence (buffers handed over, not copied). */
export type PoolReply = { id: number; category: Uint16Array; confidence: Float64Array } | { id: number; error: string };

export interface PoolPredictions {
  /** index into the model's labels, per text */
  category: Uint16Array;
  confidence: Float64Array;
}

/** A pool thread died (or failed) with texts in flight: the runtime retries the batch. */
export class ClassifyWorkerError extends RetriableError {
  override readonly name = 'ClassifyWorkerError';
}

export interface ClassifyPoolOptions {
  /** threads (≥ 1) */
  size: number;
  /** the thread's entry module (tests); default ./pool-boot.mjs */
  entry?: URL;
  /** fewest texts worth a job of their own when a call is split over the threads (default 256) */
  minChunk?: number;
}

interface Slot {
  worker: Worker;
  /** texts in flight */
  load: number;
  jobs: Map<number, { resolve: (p: PoolPredictions) => void; reject: (e: Error) => void; n: number }>;
}

/**
 * The n-gram model on worker threads, off the consumer's thread: `predict` cuts the texts into one
 * job per thread (fewer for a small call), each thread scores its share with its own copy of the
 * model, and the answers come back as typed arrays. A thread that dies fails its jobs with a
 * ClassifyWorkerError (retriable) and is replaced on the next call. Threads are started on first
 * use and hold the process open only while a job is in flight; `close` ends them.
 */
export class ClassifyPool {
  private readonly slots: (Slot | undefined)[];
  private readonly entry: URL;
  private readonly minChunk: number;
  private readonly data: PoolWorkerData;
  private nextId = 1;
  private closed = false;

  constructor(model: ClassifierModel, opts: ClassifyPoolOptions) {
    if (!Number.isInteger(opts.size) || opts.size < 1) throw new RangeError('a classify pool needs ≥ 1 thread');
    this.slots = new Array(opts.size).fill(undefined);
    this.entry = opts.entry ?? new URL('./pool-boot.mjs', import.meta.url);
    this.minChunk = opts.minChunk ?? 256;
    this.data = { header: model.header, weights: model.weights };
  }

  get size(): number {
    return this.slots.length;
  }

  /** Label index and confidence of every text, in order. */
  async predict(texts: readonly string[]): Promise<PoolPredictions> {
    if (this.closed) throw new ClassifyWorkerError('the classify pool is closed');
    const n = texts.length;
    const category = new Uint16Array(n);
    const confidence = new Float64Array(n);
    if (n === 0) return { category, confidence };
    const jobs = Math.max(1, Math.min(this.slots.length, Math.floor(n / this.minChunk)));
    const per = Math.ceil(n / jobs);
    const parts: Promise<void>[] = [];
    for (let from = 0; from < n; from += per) {
      const to = Math.min(n, from + per);
      parts.push(
        this.run(texts, from, to).then((p) => {
          category.set(p.category, from);
          confidence.set(p.confidence, from);
        }),
      );
    }
    await Promise.all(parts);
    return { category, confidence };
  }

  private run(texts: readonly string[], from: number, to: number): Promise<PoolPredictions> {
    const lengths = new Uint32Array(to - from);
    for (let i = from; i < to; i++) lengths[i - from] = (texts[i] as string).length;
    const text = texts.slice(from, to).join('');
    const slot = this.leastLoaded();
    const id = this.nextId++;
    return new Promise<PoolPredictions>((resolve, reject) => {
      slot.jobs.set(id, { resolve, reject, n: to - from });
      slot.load += to - from;
      if (slot.jobs.size === 1) slot.worker.ref();
      const job: PoolJob = { id, text, lengths };
      slot.worker.postMessage(job, [lengths.buffer as ArrayBuffer]);
    });
  }

  private leastLoaded(): Slot {
    let best: Slot | undefined;
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i] ?? this.spawn(i);
      if (!best || s.load < best.load) best = s;
    }
    return best as Slot;
  }

  private spawn(i: number): Slot {
    const worker = new Worker(this.entry, { workerData: this.data });
    worker.unref();
    const slot: Slot = { worker, load: 0, jobs: new Map() };
    this.slots[i] = slot;
    worker.on('message', (r: PoolReply) => {
      const job = slot.jobs.get(r.id);
      if (!job) return;
      slot.jobs.delete(r.id);
      slot.load -= job.n;
      if (slot.jobs.size === 0) worker.unref();
      if ('error' in r) job.reject(new ClassifyWorkerError(`classify thread failed: ${r.error}`));
      else job.resolve({ category: r.category, confidence: r.confidence });
    });
    // a thread that dies takes its jobs with it: fail them (retriable) and start a new one next call
    const lost = (why: string, cause?: unknown) => {
      if (this.slots[i] === slot) this.slots[i] = undefined;
      const jobs = [...slot.jobs.values()];
      slot.jobs.clear();
      slot.load = 0;
      for (const j of jobs) j.reject(new ClassifyWorkerError(`classify thread ${why}`, { cause }));
    };
    worker.on('error', (e: Error) => lost(`failed: ${e.message}`, e));
    worker.on('exit', (code) => lost(this.closed ? 'stopped (pool closed)' : `exited with code ${code}`));
    return slot;
  }

  /** Ends every thread; jobs in flight fail (retriable) and later calls are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const live = this.slots.filter((s): s is Slot => s !== undefined);
    this.slots.fill(undefined);
    await Promise.all(live.map((s) => s.worker.terminate()));
  }
}
