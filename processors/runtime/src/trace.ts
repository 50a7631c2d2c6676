import { randomFillSync } from 'node:crypto';

/** W3C trace context of one span: https://www.w3.org/TR/trace-context/ */
export interface SpanContext {
  traceId: string;
  spanId: string;
  flags: number;
}

export const TRACEPARENT = 'traceparent';

const re = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function parseTraceparent(h: string | Buffer | undefined | null): SpanContext | undefined {
  if (h == null) return undefined;
  const m = re.exec(h.toString().trim().toLowerCase());
  if (!m || m[1] === 'ff') return undefined;
  const [, , traceId = '', spanId = '', flags = '00'] = m;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

export function formatTraceparent(c: SpanContext): string {
  return `00-${c.traceId}-${c.spanId}-${c.flags.toString(16).padStart(2, '0')}`;
}

// ids come from a pooled random buffer: one getrandom call per 512 span ids, not one per record
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const s = pool.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  return s;
}

/** A new span: a child of `parent` (same trace) or the root of a new sampled trace. */
export function childSpan(parent?: SpanContext): SpanContext {
  return {
    traceId: parent?.traceId ?? randomHex(16),
    spanId: randomHex(8),
    flags: parent?.flags ?? 1,
  };
}

/**
 * The span seam. The runtime asks it for a batch span (linked to every input record's context)
 * and, per record, for the context the output carries. The default only propagates W3C
 * context; an OpenTelemetry tracer implements the same interface and exports real spans.
 */
export interface StageTracer {
  startBatch(info: { stage: string; topic: string; partition: number; links: SpanContext[] }): BatchSpan;
}

export interface BatchSpan {
  readonly context: SpanContext;
  /** Context for the output of one record: a child of the record's producer span when it has one. */
  recordContext(parent: SpanContext | undefined): SpanContext;
  end(error?: unknown): void;
}

export const propagatingTracer: StageTracer = {
  startBatch() {
    return { context: childSpan(), recordContext: (parent) => childSpan(parent), end() {} };
  },
};
