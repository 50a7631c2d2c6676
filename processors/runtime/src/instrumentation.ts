import diagnostics from 'node:diagnostics_channel';

/**
 * Instrumentation as `node:diagnostics_channel` named channels: metrics and tracing subscribe
 * (`diagnostics_channel.subscribe('feedlog:stage:batch', fn)`) without the core depending on
 * them, and publishing costs nothing when nobody listens.
 */
export const channelNames = {
  batch: 'feedlog:stage:batch',
  dlq: 'feedlog:stage:dlq',
  retry: 'feedlog:stage:retry',
  error: 'feedlog:stage:error',
  assignment: 'feedlog:stage:assignment',
  backpressure: 'feedlog:stage:backpressure',
  breaker: 'feedlog:stage:breaker',
  lifecycle: 'feedlog:stage:lifecycle',
  seek: 'feedlog:stage:seek',
} as const;

export interface BatchEvent {
  stage: string;
  generation: number;
  topic: string;
  partition: number;
  firstOffset: string;
  lastOffset: string;
  recordsIn: number;
  recordsOut: number;
  dlq: number;
  bytesIn: number;
  /** wall time from taking the batch to the end of the commit */
  batchMs: number;
  transformMs: number;
  commitMs: number;
  mode: 'exactly-once' | 'at-least-once';
  /** records left between this commit and the partition's log end (as of the last fetch), -1 when unknown */
  lag: number;
}

export interface DlqEvent {
  stage: string;
  topic: string;
  partition: number;
  offset: string;
  errorClass: string;
  message: string;
  attempts: number;
}

export interface RetryEvent {
  stage: string;
  records: number;
  attempt: number;
  delayMs: number;
  errorClass: string;
}

export interface ErrorEvent {
  stage: string;
  topic?: string;
  partition?: number;
  where: string;
  error: unknown;
}

export interface AssignmentEvent {
  stage: string;
  assigned: { topic: string; partition: number }[];
  revoked: { topic: string; partition: number }[];
}

export interface BackpressureEvent {
  stage: string;
  topic: string;
  partition: number;
  paused: boolean;
  reason: string;
  bufferedRecords: number;
  bufferedBytes: number;
}

export interface BreakerEvent {
  stage: string;
  breaker: string;
  state: 'closed' | 'open' | 'half-open';
}

export interface LifecycleEvent {
  stage: string;
  status: string;
  detail?: string;
}

/** The consumer was moved to where the committed (or stored) offset says. */
export interface SeekEvent {
  stage: string;
  topic: string;
  partition: number;
  /** where the consumer was reading from (-1: unknown) */
  from: number;
  to: number;
}

export interface ChannelMessages {
  batch: BatchEvent;
  dlq: DlqEvent;
  retry: RetryEvent;
  error: ErrorEvent;
  assignment: AssignmentEvent;
  backpressure: BackpressureEvent;
  breaker: BreakerEvent;
  lifecycle: LifecycleEvent;
  seek: SeekEvent;
}

const channels = Object.fromEntries(
  Object.entries(channelNames).map(([k, name]) => [k, diagnostics.channel(name)]),
) as Record<keyof ChannelMessages, diagnostics.Channel>;

export function publish<K extends keyof ChannelMessages>(kind: K, message: ChannelMessages[K]): void {
  const ch = channels[kind];
  if (ch.hasSubscribers) ch.publish(message);
}

/** Subscribe to one channel; returns the unsubscribe function. */
export function subscribe<K extends keyof ChannelMessages>(
  kind: K,
  fn: (message: ChannelMessages[K]) => void,
): () => void {
  const listener = (m: unknown) => fn(m as ChannelMessages[K]);
  diagnostics.subscribe(channelNames[kind], listener);
  return () => diagnostics.unsubscribe(channelNames[kind], listener);
}
