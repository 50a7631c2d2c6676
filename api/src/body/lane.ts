import { Worker } from 'node:worker_threads';
import type { ErrorObject } from 'ajv';
import type { JsonRefusal } from './parse.ts';

/** One large body for the worker. `schema` travels once per route (the worker keeps its validator). */
export interface LaneJob {
  id: number;
  /** the body, handed over (transferred) or copied; absent when it sits in a receive slot */
  bytes?: Uint8Array;
  /** index of the receive slot (a SharedArrayBuffer both threads hold) the body was read into */
  slot?: number;
  /** body bytes in the slot */
  length: number;
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
  /**
   * Bytes of each receive slot (the body limit): a declared body up to this size is read straight
   * into a slot, shared with the worker, instead of a chunk list concatenated into a new buffer.
   * 0: no slots (bodies are read as chunks, concatenated and handed over; kept to measure against).
   */
  slotBytes?: number;
  /**
   * Bytes per second of large bodies read into the receive slots (default 16 MiB/s; 0: no limit).
   * Receiving a body costs the main thread too (socket reads, the copy, the request and its
   * answer: about 2 ms per MiB, bench/RESULTS.md), and the niced worker alone does not bound it:
   * it parses as fast as idle CPU allows, so hostile clients could keep the event loop busy with
   * receiving. Paced, a body waits unread (TCP holds its client) until its turn.
   */
  rate?: number;
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

/** Receive slots: one body read while another is parsed, so reading and parsing overlap. */
const SLOTS = 2;

interface SlotWaiter {
  gone: () => boolean;
  resolve: (slot: number | undefined) => void;
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
  /**
   * Receive slots, allocated once and shared with the worker: a large body is copied from the
   * socket's chunks into one of them and the worker parses it there. No chunk list, no
   * concatenated 2 MiB buffer per body, no fresh pages to fault in: the main thread's share of a
   * large body is one copy into warm memory, and its heap sees no large allocations (fewer GCs).
   */
  private readonly slots: SharedArrayBuffer[];
  private readonly freeSlots: number[];
  private readonly slotWaiters: SlotWaiter[] = [];
  private readonly rate: number;
  /** performance.now() from which the next paced body may be read */
  private nextRead = 0;
  /** wakes the bodies waiting for their pace (on close) */
  private readonly pacing = new Set<() => void>();

  constructor(private readonly opts: BodyLaneOptions) {
    this.threshold = opts.threshold ?? 64 * 1024;
    this.queueMax = opts.queue ?? 4;
    this.nice = opts.nice ?? 19;
    this.rate = opts.rate ?? 16 * 1024 * 1024;
    const slotBytes = opts.slotBytes ?? 0;
    // pages are only touched (made resident) as bodies are written into them
    this.slots =
      slotBytes > 0
        ? Array.from({ length: Math.min(SLOTS, 1 + this.queueMax) }, () => new SharedArrayBuffer(slotBytes))
        : [];
    this.freeSlots = this.slots.map((_, i) => i);
  }

  /** largest body a receive slot holds (0: no slots) */
  get slotBytes(): number {
    return this.slots[0]?.byteLength ?? 0;
  }

  /**
   * Waits for a free receive slot, in arrival order, and returns it as a Buffer of `length` bytes
   * to read the body into; until then the caller leaves the body unread, so the socket's own
   * backpressure holds the client (an admitted body costs nothing while it waits). Undefined when
   * the client went away (`gone()`) or the lane closed. The slot goes back with parse(), or with
   * freeSlot() if the body is not parsed.
   */
  async receiveSlot(length: number, gone: () => boolean): Promise<{ slot: number; bytes: Buffer } | undefined> {
    if (this.closed || length > this.slotBytes) return undefined;
    const slot =
      this.freeSlots.shift() ??
      (await new Promise<number | undefined>((resolve) => {
        // a waiter whose client left is dropped now rather than at the next free slot
        for (let i = this.slotWaiters.length - 1; i >= 0; i--)
          if (this.slotWaiters[i]?.gone()) this.slotWaiters.splice(i, 1)[0]?.resolve(undefined);
        this.slotWaiters.push({ gone, resolve });
      }));
    if (slot === undefined) return undefined;
    const wait = this.pace(length);
    if (wait > 0)
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.pacing.delete(wake);
          resolve();
        }, wait);
        const wake = () => {
          clearTimeout(t);
          resolve();
        };
        this.pacing.add(wake);
      });
    if (this.closed || gone()) {
      this.freeSlot(slot);
      return undefined;
    }
    return { slot, bytes: Buffer.from(this.slots[slot] as SharedArrayBuffer, 0, length) };
  }

  /** ms to wait before reading `bytes` more, at `rate` bytes/s: bodies are spaced, not burst */
  private pace(bytes: number): number {
    if (!(this.rate > 0)) return 0;
    const now = performance.now();
    const start = Math.max(now, this.nextRead);
    this.nextRead = start + (bytes / this.rate) * 1000;
    return start - now;
  }

  freeSlot(slot: number): void {
    let w = this.slotWaiters.shift();
    while (w?.gone()) {
      w.resolve(undefined);
      w = this.slotWaiters.shift();
    }
    if (w && !this.closed) w.resolve(slot);
    else {
      w?.resolve(undefined);
      this.freeSlots.push(slot);
    }
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
    body: Buffer | { slot: number; length: number },
    route: string,
    schema: object | undefined,
    gone: () => boolean = () => false,
    admitted = false,
  ): Promise<LaneOutcome> {
    const inSlot = !Buffer.isBuffer(body);
    if (this.closed || (!admitted && !this.admit())) {
      if (inSlot) this.freeSlot(body.slot);
      return Promise.reject(this.closed ? new LaneFailedError(new Error('closed')) : new LaneFullError(this.admitted));
    }
    const owns =
      !inSlot && body.byteOffset === 0 && body.buffer.byteLength === body.length && body.buffer instanceof ArrayBuffer;
    const job: LaneJob = {
      id: this.nextId++,
      ...(inSlot ? { slot: body.slot, length: body.length } : { bytes: body, length: body.length }),
      route,
      maxDepth: this.opts.maxDepth,
      maxValues: this.opts.maxValues,
    };
    return new Promise<LaneOutcome>((resolve, reject) => {
      // the place (and the slot) is given back however the job ends
      const done =
        <T>(f: (v: T) => void) =>
        (v: T) => {
          this.release();
          if (inSlot) this.freeSlot(body.slot);
          f(v);
        };
      this.waiting.push({
        job,
        schema,
        transfer: owns ? [body.buffer as ArrayBuffer] : [],
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
    for (const w of this.slotWaiters.splice(0)) w.resolve(undefined);
    for (const wake of this.pacing) wake();
    this.pacing.clear();
    this.running?.reject(failed);
    this.running = undefined;
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private spawn(): Worker {
    const w = new Worker(new URL('./worker-boot.mjs', import.meta.url), {
      workerData: { nice: this.nice, slots: this.slots },
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
