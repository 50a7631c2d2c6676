import type { Readable } from 'node:stream';
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';
import { Counter, Gauge } from 'prom-client';
import { BodyLane, LaneFailedError, LaneFullError } from '../body/lane.ts';
import { type JsonRefusal, parseJsonBody } from '../body/parse.ts';
import { readChunks, readInto } from '../body/read.ts';
import { errors } from '../errors.ts';
import { markValidated } from '../validation.ts';

/** Deepest `[`/`{` nesting a body may have; the deepest real body (items → item → field) is 3. */
export const MAX_JSON_DEPTH = 32;
/** Array elements + object members a body may hold: 500 items × 6 fields is about 3,500. */
export const MAX_JSON_VALUES = 20_000;

export interface LargeBodyOptions {
  /** bytes from which a body is parsed and validated in the body worker (default 64 KiB) */
  threshold?: number;
  /** large bodies that may wait for the worker (default 4); one more is answered 503 `busy` */
  queue?: number;
  /** niceness of the worker thread (Linux, default 19) */
  nice?: number;
  /** bytes per second of large bodies read into the receive slots (default 16 MiB/s; 0: no limit) */
  rate?: number;
  /**
   * false: large bodies are read as Fastify reads them (a chunk list concatenated into a new
   * buffer, all admitted bodies at once) and handed to the worker; the code before the receive
   * slots, kept only so bench/api-hostile.ts can measure one against the other. Default true.
   */
  slots?: boolean;
}

const busy = (admitted: number) =>
  errors.busy(`${admitted} large request bodies are already being read or parsed; nothing was accepted`, 1);

type Done = (err: Error | null, body?: unknown) => void;

function refused(r: JsonRefusal) {
  switch (r.kind) {
    case 'empty':
      return errors.invalidJson('empty body');
    case 'encoding':
      return errors.invalidEncoding();
    case 'depth':
      return errors.invalidJson(`nested deeper than ${r.max} levels`);
    case 'values':
      return errors.invalidJson(`more than ${r.max} values`);
    case 'syntax':
      return errors.invalidJson(r.message);
  }
}

/**
 * The only body parser: JSON, strictly (body/parse.ts). Everything else gets 415. Fastify only
 * runs it for a matched route with a body (unknown routes are answered 404 in onRequest, before
 * the body is read: see guards.ts). Bodies from `large.threshold` bytes go through the body lane
 * (body/lane.ts): parsed and validated against the route's schema one at a time in a
 * low-priority worker thread, so they do not stall the event loop; a full lane is 503 `busy`.
 */
export function installJsonParser(
  app: FastifyInstance,
  large: LargeBodyOptions | false = {},
  maxDepth = MAX_JSON_DEPTH,
  maxValues = MAX_JSON_VALUES,
): BodyLane | undefined {
  const bodyLimit = app.initialConfig.bodyLimit ?? 1024 * 1024;
  const lane =
    large === false
      ? undefined
      : new BodyLane({ ...large, slotBytes: large.slots === false ? 0 : bodyLimit, maxDepth, maxValues });
  /** requests holding a place in the lane that parse() has not taken over yet */
  const admitted = new WeakSet<object>();
  if (lane) {
    app.addHook('onClose', async () => lane.close());
    const registers = app.hasDecorator('metrics') ? [app.metrics.registry] : [];
    new Gauge({
      name: 'feedlog_api_large_bodies',
      help: 'large request bodies admitted to the body lane: being read, waiting, or parsed in the worker',
      registers,
      collect() {
        this.set(lane.depth);
      },
    });
    const refusedBusy = new Counter({
      name: 'feedlog_api_large_bodies_refused_total',
      help: 'large request bodies answered 503 busy because the body lane was full',
      registers,
    });
    // Admission before the body is read: after the rate limit, auth and 404 (onRequest hooks), a
    // large declared body takes a place in the lane or is refused at once, unread (Node discards
    // the rest of it and the connection stays usable).
    app.addHook('preParsing', async (req, reply, payload) => {
      if (!(Number(req.headers['content-length']) >= lane.threshold)) return payload;
      if (!lane.admit()) {
        refusedBusy.inc();
        throw busy(lane.depth);
      }
      admitted.add(req.raw);
      // not handed to the lane (413, 415, a client gone mid-body): give the place back
      reply.raw.once('close', () => {
        if (admitted.delete(req.raw)) lane.release();
      });
      return payload;
    });
  }

  /** hands a large body (in a receive slot, or a buffer of its own) to the worker */
  const toLane = (lane: BodyLane, req: FastifyRequest, body: Parameters<BodyLane['parse']>[0], done: Done) => {
    const schema = req.routeOptions.schema?.body as object | undefined;
    const gone = () => req.raw.socket?.destroyed ?? false;
    lane.parse(body, `${req.method} ${req.routeOptions.url}`, schema, gone, admitted.delete(req.raw)).then(
      (out) => {
        if (!out.ok) return done(refused(out.refusal), undefined);
        if (out.validated && typeof out.value === 'object' && out.value !== null) markValidated(out.value, out.errors);
        done(null, out.value);
      },
      (e: unknown) => {
        if (e instanceof LaneFullError) return done(busy(e.admitted), undefined);
        if (!gone()) req.log.error({ err: e instanceof LaneFailedError ? e.cause : e }, 'body worker failed');
        done(errors.busy('the large-body parser is restarting', 1), undefined);
      },
    );
  };

  /**
   * A large body declared by content-length, admitted in preParsing: it stays unread (the socket's
   * backpressure holds the client) until a receive slot is free, then is copied chunk by chunk
   * into the slot and parsed there by the worker. The main thread never builds a chunk list or a
   * concatenated copy of it.
   */
  const viaSlot = async (
    lane: BodyLane,
    req: FastifyRequest,
    payload: Readable,
    length: number,
    limit: number,
    done: Done,
  ) => {
    const gone = () => req.raw.socket?.destroyed ?? false;
    const got = await lane.receiveSlot(length, gone);
    if (!got) return done(errors.busy('the client went away or the API is closing', 1), undefined);
    try {
      await readInto(payload, got.bytes, limit);
    } catch (e) {
      lane.freeSlot(got.slot);
      return done(e as Error, undefined);
    }
    toLane(lane, req, { slot: got.slot, length }, done);
  };

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', (req, payload, done) => {
    const limit = req.routeOptions.bodyLimit ?? bodyLimit;
    const declared = Number(req.headers['content-length']);
    if (declared > limit) return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(), undefined);
    if (lane && admitted.has(req.raw) && declared <= lane.slotBytes) {
      void viaSlot(lane, req, payload, declared, limit, done);
      return;
    }
    // A body without content-length (chunked) cannot be admitted or paced before it is read, so
    // only a small one is read here on the event loop; a larger one must declare its length and
    // go through the lane like every other large body (else a hostile client bypasses the pacing).
    const undeclared = lane !== undefined && Number.isNaN(declared);
    const cap = undeclared ? Math.min(limit, lane.threshold - 1) : limit;
    readChunks(payload, declared, cap).then(
      (buf) => {
        if (lane && buf.length >= lane.threshold) return toLane(lane, req, buf, done);
        const out = parseJsonBody(buf, maxDepth, maxValues);
        if (out.ok) done(null, out.value);
        else done(refused(out.refusal), undefined);
      },
      (e: Error & { code?: string }) => {
        if (undeclared && cap < limit && e.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
          return done(errors.lengthRequired(`a body of ${cap + 1} bytes or more must declare its Content-Length`));
        done(e, undefined);
      },
    );
  });
  return lane;
}
