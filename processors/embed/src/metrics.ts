import { Counter, register as globalRegistry, Histogram, type Registry } from 'prom-client';

export interface EmbedMetrics {
  /** tokens the endpoint embedded (`usage.prompt_tokens`), by model */
  tokens: Counter<'model'>;
  /** texts sent and embedded, by model */
  inputs: Counter<'model'>;
  /** requests by model and outcome: ok | bad_input | http_<status> | connection | timeout | aborted | error */
  requests: Counter<'model' | 'outcome'>;
  /** retries after a failed attempt, by model and the failure that caused it */
  retries: Counter<'model' | 'reason'>;
  /** wall time of one successful attempt */
  requestSeconds: Histogram<'model'>;
  /** texts answered from the embedding cache, by model */
  cacheHits: Counter<'model'>;
  /** texts the cache did not hold (then embedded, once per distinct text), by model */
  cacheMisses: Counter<'model'>;
  /** cache reads/writes that failed (the texts were embedded anyway), by operation and error class */
  cacheErrors: Counter<'model' | 'op' | 'error'>;
}

const byRegistry = new WeakMap<Registry, EmbedMetrics>();

/**
 * The embed stage's Prometheus series in `registry` (default: prom-client's global registry);
 * created once per registry, so several stages or clients in one process share them.
 */
export function embedMetrics(registry: Registry = globalRegistry): EmbedMetrics {
  const hit = byRegistry.get(registry);
  if (hit) return hit;
  const registers = [registry];
  const m: EmbedMetrics = {
    tokens: new Counter({
      name: 'embedding_tokens_total',
      help: 'Tokens embedded, as the endpoint reports them in usage.prompt_tokens',
      labelNames: ['model'],
      registers,
    }),
    inputs: new Counter({
      name: 'embedding_inputs_total',
      help: 'Texts embedded',
      labelNames: ['model'],
      registers,
    }),
    requests: new Counter({
      name: 'embedding_requests_total',
      help: 'Embedding request attempts by outcome',
      labelNames: ['model', 'outcome'],
      registers,
    }),
    retries: new Counter({
      name: 'embedding_retries_total',
      help: 'Embedding requests retried, by the failure that caused the retry',
      labelNames: ['model', 'reason'],
      registers,
    }),
    requestSeconds: new Histogram({
      name: 'embedding_request_duration_seconds',
      help: 'Wall time of a successful embedding request',
      labelNames: ['model'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    cacheHits: new Counter({
      name: 'embedding_cache_hits_total',
      help: 'Texts answered from the embedding cache',
      labelNames: ['model'],
      registers,
    }),
    cacheMisses: new Counter({
      name: 'embedding_cache_misses_total',
      help: 'Texts the embedding cache did not hold',
      labelNames: ['model'],
      registers,
    }),
    cacheErrors: new Counter({
      name: 'embedding_cache_errors_total',
      help: 'Embedding cache operations that failed (bypassed: the texts were embedded)',
      labelNames: ['model', 'op', 'error'],
      registers,
    }),
  };
  byRegistry.set(registry, m);
  return m;
}
