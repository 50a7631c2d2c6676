/**
 * kafkajs 2.2.4 busy-waits on every open connection: `RequestQueue.scheduleCheckPendingRequests`
 * re-arms a `setTimeout` of `throttledUntil - Date.now()` (negative, so 1 ms) even when nothing is
 * pending, and the callback calls it again — a 1 kHz timer loop per broker connection for the life
 * of the client (tulios/kafkajs#1556, #1704; fix proposed in #1667, never released). An idle stage
 * with a consumer, an admin and a producer per partition burned 7–9 % of a core on it alone.
 *
 * Second, each connection also checks its in-flight requests for timeouts on a 100 ms interval,
 * whether or not anything is in flight: a stage with a dozen connections woke up 120 times a second
 * (then 9–12 times with a 1 s interval) to find nothing to do. On a quiet virtual machine each wake-up
 * of a halted vCPU costs far more than its JavaScript, so an idle stage measured 2.5–3 % of a core
 * there against 0.25–0.4 % on a busy one. Now the check is a timer armed at the earliest deadline
 * of the requests in flight (see armTimeoutCheck below): no request in flight, no timer.
 *
 * The fix, applied once to the shared prototype (every client in the process uses it): arm the
 * check only while requests are waiting, at the throttle's end or the library's 10 ms re-check when
 * it was held back by max-in-flight. A request that cannot go out at once is pushed to `pending`
 * and then scheduled, and every response or timeout runs the check itself, so nothing is lost.
 *
 * FEEDLOG_KAFKAJS_IDLE_FIX=0 leaves kafkajs as released (bench/idle.ts measures both in one run).
 * Only kafkajs 2.2.4, whose source this matches, is patched; another version is left alone (and a
 * test fails, so whoever upgrades looks again).
 */
import { createRequire } from 'node:module';
import { envVar, readEnvVar } from './define-env.ts';
import { commonEnv } from './env.ts';

/** The fields and methods of kafkajs' RequestQueue that the patched method uses. */
interface RequestQueueLike {
  pending: unknown[];
  inflight: Map<number, { sentAt: number; requestTimeout: number; timeoutRequest(): void }>;
  requestTimeout: number;
  enforceRequestTimeout: boolean;
  requestTimeoutIntervalId: NodeJS.Timeout | undefined;
  isConnected(): boolean;
  destroy(): void;
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
  scheduleRequestTimeoutCheck(): void;
}

/** kafkajs' CHECK_PENDING_REQUESTS_INTERVAL */
const RECHECK_MS = 10;
export const PATCHED_KAFKAJS_VERSION = '2.2.4';

const require = createRequire(import.meta.url);

function scheduleCheckPendingRequests(this: RequestQueueLike): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const wait = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    wait > 0 ? wait : RECHECK_MS,
  );
}

/** A connection's request queue with the fields the deadline-armed timeout check adds. */
interface TimedQueue extends RequestQueueLike {
  /** epoch ms the armed timeout check fires at (undefined: none armed) */
  timeoutCheckAt?: number | undefined;
  sendSocketRequest(r: unknown): void;
}

/**
 * Request timeouts without a polling interval. As released, every connection ran
 * `setInterval(check, 100)` from connect to disconnect. Here a timer is armed only while requests
 * are in flight, for the earliest of their deadlines (sentAt + requestTimeout), and re-armed after
 * it fires; a request sent with an earlier deadline than the armed one moves the timer forward. A
 * request times out at its deadline (+1 ms), not up to 100 ms later as released; an idle connection
 * (nothing in flight) has no timer at all, and a parked fetch wakes nobody before it returns.
 */
function armTimeoutCheck(this: TimedQueue): void {
  if (!this.enforceRequestTimeout || this.inflight.size === 0) return;
  let next = Number.POSITIVE_INFINITY;
  for (const r of this.inflight.values()) next = Math.min(next, r.sentAt + r.requestTimeout);
  if (this.timeoutCheckAt !== undefined && this.timeoutCheckAt <= next) return;
  clearTimeout(this.requestTimeoutIntervalId);
  this.timeoutCheckAt = next;
  this.requestTimeoutIntervalId = setTimeout(
    () => {
      this.requestTimeoutIntervalId = undefined;
      this.timeoutCheckAt = undefined;
      const now = Date.now();
      for (const request of [...this.inflight.values()])
        if (now - request.sentAt >= request.requestTimeout) request.timeoutRequest();
      if (!this.isConnected()) {
        this.destroy();
        return;
      }
      armTimeoutCheck.call(this);
    },
    Math.max(0, next - Date.now()) + 1,
  );
}

/** Called by kafkajs on connect: as released it (re)started the 100 ms interval; now it only arms for what is in flight. */
function scheduleRequestTimeoutCheck(this: TimedQueue): void {
  if (!this.enforceRequestTimeout) return;
  this.destroy();
  armTimeoutCheck.call(this);
}

let applied: boolean | undefined;

/** Patch kafkajs' RequestQueue (idempotent). True when the patch is in place. */
export function applyKafkajsIdleFix(env?: NodeJS.ProcessEnv): boolean {
  if (applied !== undefined) return applied;
  if (!readEnvVar(envVar(commonEnv, 'FEEDLOG_KAFKAJS_IDLE_FIX'), env)) {
    applied = false;
    return applied;
  }
  const { version } = require('kafkajs/package.json') as { version: string };
  if (version !== PATCHED_KAFKAJS_VERSION) {
    applied = false;
    return applied;
  }
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: TimedQueue };
  RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  const proto = RequestQueue.prototype as TimedQueue;
  proto.scheduleRequestTimeoutCheck = scheduleRequestTimeoutCheck;
  const sendSocketRequest = proto.sendSocketRequest;
  // destroy() (disconnect) clears the timer; forget its deadline too so the next send re-arms
  const destroy = proto.destroy;
  proto.destroy = function (this: TimedQueue): void {
    destroy.call(this);
    this.requestTimeoutIntervalId = undefined;
    this.timeoutCheckAt = undefined;
  };
  proto.sendSocketRequest = function (this: TimedQueue, r: unknown): void {
    sendSocketRequest.call(this, r);
    armTimeoutCheck.call(this);
  };
  applied = true;
  return applied;
}
