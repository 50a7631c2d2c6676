/**
 * kafkajs 2.2.4 busy-waits on every open connection: `RequestQueue.scheduleCheckPendingRequests`
 * re-arms a `setTimeout` of `throttledUntil - Date.now()` (negative, so 1 ms) even when nothing is
 * pending, and the callback calls it again — a 1 kHz timer loop per broker connection for the life
 * of the client (tulios/kafkajs#1556, #1704; fix proposed in #1667, never released). An idle stage
 * with a consumer, an admin and a producer per partition burned 7–9 % of a core on it alone.
 *
 * Second, each connection also checks its in-flight requests for timeouts every 100 ms; once a
 * second is enough (see scheduleRequestTimeoutCheck below).
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

/**
 * The same method as released but checking request timeouts every second instead of every 100 ms
 * (10 wake-ups a second per connection, a dozen connections in a stage): a request that times out
 * after its 30 s (or longer) is failed at most a second later.
 */
const TIMEOUT_CHECK_MS = 1_000;
function scheduleRequestTimeoutCheck(this: RequestQueueLike): void {
  if (!this.enforceRequestTimeout) return;
  this.destroy();
  this.requestTimeoutIntervalId = setInterval(
    () => {
      for (const request of this.inflight.values())
        if (Date.now() - request.sentAt > request.requestTimeout) request.timeoutRequest();
      if (!this.isConnected()) this.destroy();
    },
    Math.min(this.requestTimeout, TIMEOUT_CHECK_MS),
  );
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
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueLike };
  RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  RequestQueue.prototype.scheduleRequestTimeoutCheck = scheduleRequestTimeoutCheck;
  applied = true;
  return applied;
}
