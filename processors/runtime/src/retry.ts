import { ExponentialBackoff, fullJitterGenerator, type IBackoff } from 'cockatiel';

export interface RetryPolicy {
  /** attempts per record, the first one included (1 = no retry) */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetry: RetryPolicy = { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 10_000 };

/**
 * Exponential backoff with full jitter and a cap (cockatiel's generator: delay n is uniform in
 * [0, min(cap, initial·2ⁿ)]). One schedule per retried group of records: partitions retry
 * independently, so a slow dependency for one partition never sleeps another's loop.
 */
export function backoffSchedule(policy: RetryPolicy): () => number {
  const factory = new ExponentialBackoff({
    generator: fullJitterGenerator,
    initialDelay: policy.initialDelayMs,
    maxDelay: policy.maxDelayMs,
  });
  let current: IBackoff<unknown> | undefined;
  return () => {
    current = current ? current.next(undefined) : factory.next();
    return Math.min(policy.maxDelayMs, current.duration);
  };
}

/** A sleep that an AbortSignal cuts short (shutdown must not wait out a long backoff). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
