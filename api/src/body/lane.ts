import { Worker } from 'node:worker_threads';
import type { ErrorObject } from 'ajv';
import type { JsonRefusal } from './parse.ts';

/** One large body for the worker. `schema` travels once per route (the worker keeps its validator). */
export interface LaneJob {
  id: number;
  bytes: Uint8Array;
  /** `METHOD url` of the route, the worker's key for its compiled validator */
  route: string;
  schema?: object;
  maxDepth: number;
  maxValues: number;
}

export type LaneReply =
  | { id: number; ok: true; value: unknown; validated: boolean; errors: ErrorObject[] | null }
  | { id: number; ok: false; refusal: JsonRefusal };

export type LaneOutcome = Omit<Extract<LaneReply, { ok: true }>, 'id'> | Omit<Extract<LaneReply, { ok: false }>, 'id'>;

export interface BodyLaneOptions {
  /** bodies of this many bytes or more go through the lane (default 64 KiB); smaller ones are parsed in line */
  threshold?: number;
  /** large bodies that may wait (being read or queued) while the worker works on one (default 4); one more is refused (LaneFullError) */
  queue?: number;
  /** niceness of the worker thread on Linux, 0..19 (default 19: it gets a core only when nothing else wants it) */
  nice?: number;
  maxDepth: number;
  maxValues: number;
}

/** The lane's queue is full: the caller answers 503 with Retry-After. */
export class LaneFullError extends Error {
  constructor(readonly admitted: number) {
    super(`${admitted} large request bodies are already being read or parsed`);
    this.name = 'LaneFullError';
  }
}

/** The worker died while parsing a body (out of memory, a bug): the caller answers 503. */
export class LaneFailedError extends Error {
  constructor(cause: unknown) {
    super('the body worker failed', { cause });
    this.name = 'LaneFailedError';
  }
}

interface Pending {
  job: LaneJob;
  schema: object | undefined;
  transfer: ArrayBuffer[];
  gone: () => boolean;
  resolve: (o: LaneOutcome) => void;
  reject: (e: Error) => void;
}

/**
 * Admission control and the worker for large request bodies (issue 12). Parsing and validating a
 * 2 MiB batch costs tens of milliseconds of CPU; on the event loop that stalls every search. Here
 * at most ONE large body is parsed and validated at a time, in one worker thread at low OS
 * priority, the next few wait in a bounded queue, and beyond that the request is refused at once
 * (LaneFullError → 503 + Retry-After): nothing is half-read or half-accepted, the client is told
 * when to come back. One worker, not a pool: on a small machine more parsing threads only take
 * cores from the searches (measured, bench/RESULTS.md).
 */
export class BodyLane {
  readonly threshold: number;
  private readonly queueMax: number;
  private readonly nice: number;
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private running: Pending | undefined;
  private readonly waiting: Pending[] = [];
  /** routes whose validator the current worker has compiled */
  private readonly compiled = new Set<string>();
  private readonly schemaJson = new Map<string, object>();
  private nextId = 1;
  /** large bodies admitted: being read, waiting, or in the worker (at most 1 + queue) */
  private admitted = 0;
  private closed = false;
  /** niceness the worker thread reported (null: not lowered, e.g. not Linux) */
  workerNice: number | null = null;

  constructor(private readonly opts: BodyLaneOptions) {
    this.threshold = opts.threshold ?? 64 * 1024;
    this.queueMax = opts.queue ?? 4;
    this.nice = opts.nice ?? 19;
  }

  /** large bodies admitted now: being read, waiting, or in the worker */
  get depth(): number {
    return this.admitted;
  }

  /**
   * Takes a place for a large body before it is read (its content-length is known): false when
   * 1 + queue bodies are already admitted, so a refused body is never read into memory. The place
   * passes to parse(); release() it if the request ends before that.
   */
  admit(): boolean {
    if (this.closed || this.admitted >= 1 + this.queueMax) return false;
    this.admitted++;
    return true;
  }

  release(): void {
    if (this.admitted > 0) this.admitted--;
  }

  /**
   * Parses `buf` in the worker (and validates it against `schema`, compiled once per `route`).
   * `buf` is handed over, not copied, when it owns its memory: do not use it afterwards.
   * `gone()` true when its turn comes (the client hung up) skips the work. `admitted`: the body
   * holds a place from admit(); without one (no content-length) it takes one now or is refused.
   */
  parse(
    buf: Buffer,
    route: string,
    schema: object | undefined,
    gone: () => boolean = () => false,
    admitted = false,
  ): Promise<LaneOutcome> {
    if (this.closed) return Promise.reject(new LaneFailedError(new Error('closed')));
    if (!admitted && !this.admit()) return Promise.reject(new LaneFullError(this.admitted));
    const owns = buf.byteOffset === 0 && buf.buffer.byteLength === buf.length && buf.buffer instanceof ArrayBuffer;
    const job: LaneJob = {
      id: this.nextId++,
      bytes: buf,
      route,
      maxDepth: this.opts.maxDepth,
      maxValues: this.opts.maxValues,
    };
    return new Promise<LaneOutcome>((resolve, reject) => {
      // the place is given back however the job ends
      const done =
        <T>(f: (v: T) => void) =>
        (v: T) => {
          this.release();
          f(v);
        };
      this.waiting.push({
        job,
        schema,
        transfer: owns ? [buf.buffer as ArrayBuffer] : [],
        gone,
        resolve: done(resolve),
        reject: done(reject),
      });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const failed = new LaneFailedError(new Error('closed'));
    for (const p of this.waiting.splice(0)) p.reject(failed);
    this.running?.reject(failed);
    this.running = undefined;
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private spawn(): Worker {
    const w = new Worker(new URL('./worker-boot.mjs', import.meta.url), {
      workerData: { nice: this.nice },
    });
    w.unref();
    this.compiled.clear();
    this.ready = new Promise<void>((resolve) => {
      w.once('message', (m: { ready: true; nice: number | null }) => {
        this.workerNice = m.nice;
        w.on('message', (r: LaneReply) => this.settle(r));
        resolve();
      });
    });
    const lost = (e: unknown) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      const p = this.running;
      this.running = undefined;
      p?.reject(new LaneFailedError(e));
      this.pump();
    };
    w.on('error', lost);
    w.on('exit', (code) => lost(new Error(`body worker exited with code ${code}`)));
    return w;
  }

  private pump(): void {
    if (this.running || this.closed) return;
    let next = this.waiting.shift();
    while (next?.gone()) {
      next.reject(new LaneFailedError(new Error('the client went away')));
      next = this.waiting.shift();
    }
    if (!next) return;
    this.running = next;
    this.worker ??= this.spawn();
    const w = this.worker;
    const p = next;
    void this.ready?.then(() => {
      if (this.worker !== w || this.running !== p) return;
      // the schema travels with the first job of its route (again after a respawn), as JSON:
      // TypeBox objects carry symbols a message cannot
      const route = p.job.route;
      if (p.schema && !this.compiled.has(route)) {
        const json = this.schemaJson.get(route) ?? (JSON.parse(JSON.stringify(p.schema)) as object);
        this.schemaJson.set(route, json);
        p.job.schema = json;
        this.compiled.add(route);
      }
      w.postMessage(p.job, p.transfer);
    });
  }

  private settle(r: LaneReply): void {
    const p = this.running;
    if (!p || p.job.id !== r.id) return;
    this.running = undefined;
    const { id: _id, ...outcome } = r;
    p.resolve(outcome);
    this.pump();
  }
}
