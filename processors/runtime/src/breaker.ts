import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
} from 'cockatiel';
import { BreakerOpenError, PoisonRecordError } from './errors.ts';

export interface BreakerOptions {
  /** consecutive failures that open the circuit */
  failureThreshold: number;
  /** how long the circuit stays open before one trial call (half-open) */
  halfOpenAfterMs: number;
}

export const defaultBreaker: BreakerOptions = { failureThreshold: 5, halfOpenAfterMs: 5_000 };

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * A circuit breaker around one external dependency (embedder, vector store), over cockatiel's
 * closed/open/half-open policy. Poison-record errors do not count as dependency failures.
 * When open, `run` throws BreakerOpenError: the runtime then pauses the partition and retries
 * the batch after `retryAfterMs` instead of dead-lettering records for a dependency's outage.
 */
export class Breaker {
  private readonly policy: CircuitBreakerPolicy;
  private openedAt = 0;

  constructor(
    readonly name: string,
    readonly options: BreakerOptions = defaultBreaker,
    onState?: (s: BreakerState) => void,
  ) {
    this.policy = circuitBreaker(
      handleWhen((e) => !(e instanceof PoisonRecordError)),
      { halfOpenAfter: options.halfOpenAfterMs, breaker: new ConsecutiveBreaker(options.failureThreshold) },
    );
    this.policy.onBreak(() => {
      this.openedAt = Date.now();
      onState?.('open');
    });
    this.policy.onHalfOpen(() => onState?.('half-open'));
    this.policy.onReset(() => onState?.('closed'));
  }

  get state(): BreakerState {
    const s = this.policy.state;
    return s === CircuitState.Closed ? 'closed' : s === CircuitState.HalfOpen ? 'half-open' : 'open';
  }

  /** ms until a trial call is allowed (0 when closed or half-open) */
  retryAfterMs(): number {
    return this.state === 'open' ? Math.max(0, this.openedAt + this.options.halfOpenAfterMs - Date.now()) : 0;
  }

  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    try {
      return await this.policy.execute(() => fn());
    } catch (e) {
      if (e instanceof BrokenCircuitError) throw new BreakerOpenError(this.name, Math.max(50, this.retryAfterMs()));
      throw e;
    }
  }
}
