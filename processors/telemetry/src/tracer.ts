import type { BatchSpan, SpanContext, StageTracer } from '@feedlog/runtime';
import {
  type Link,
  type SpanContext as OtelSpanContext,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';

export const TRACER_NAME = '@feedlog/telemetry';

/** Kafka batches can hold thousands of records; a span keeps at most this many links (OTel's default limit is 128). */
export const MAX_LINKS = 128;

const toOtel = (c: SpanContext): OtelSpanContext => ({
  traceId: c.traceId,
  spanId: c.spanId,
  traceFlags: c.flags,
  isRemote: true,
});

const fromOtel = (c: OtelSpanContext): SpanContext => ({ traceId: c.traceId, spanId: c.spanId, flags: c.traceFlags });

export interface OtelTracerOptions {
  /** default: the global tracer provider's tracer (set up by setupTelemetry) */
  tracer?: Tracer;
  /**
   * Per output record of a sampled input, a `<stage> send` PRODUCER span: a child of the input's
   * producer span (so the trace started at the producer continues through every stage) with a link
   * to the batch span. Its context is what the output's `traceparent` carries. Default true.
   */
  recordSpans?: boolean;
}

/**
 * The runtime's tracer seam (`StageTracer`) backed by OpenTelemetry, after the messaging semantic
 * conventions for batch processing: one CONSUMER span per batch (`<stage> process`), a new root,
 * with a link to the producer span of each input record (the W3C `traceparent` header), and per
 * sampled record a PRODUCER span child of the input's span whose context goes on the output.
 * The next stage's batch span then links to it, so a trace started at a producer is visible
 * across every stage.
 */
export function otelStageTracer(opts: OtelTracerOptions = {}): StageTracer {
  const recordSpans = opts.recordSpans ?? true;
  const tracer = () => opts.tracer ?? trace.getTracer(TRACER_NAME);
  return {
    startBatch({ stage, topic, partition, links }): BatchSpan {
      const t = tracer();
      const otelLinks: Link[] = [];
      const seen = new Set<string>();
      for (const l of links) {
        if (otelLinks.length >= MAX_LINKS) break;
        const k = `${l.traceId}${l.spanId}`;
        if (seen.has(k)) continue;
        seen.add(k);
        otelLinks.push({ context: toOtel(l) });
      }
      const span: Span = t.startSpan(`${stage} process`, {
        kind: SpanKind.CONSUMER,
        root: true,
        links: otelLinks,
        attributes: {
          'messaging.system': 'kafka',
          'messaging.operation.type': 'process',
          'messaging.operation.name': 'process',
          'messaging.destination.name': topic,
          'messaging.destination.partition.id': String(partition),
          'messaging.batch.message_count': links.length,
          'feedlog.stage': stage,
          'feedlog.links_dropped': Math.max(0, links.length - otelLinks.length),
        },
      });
      const batchCtx = span.spanContext();
      const batchLink: Link[] = [{ context: batchCtx }];
      return {
        context: fromOtel(batchCtx),
        recordContext(parent) {
          // unsampled or no producer span: the output points at the batch span
          if (!recordSpans || !parent || (parent.flags & 1) === 0) return fromOtel(batchCtx);
          const ctx = trace.setSpanContext(ROOT_CONTEXT, toOtel(parent));
          const s = t.startSpan(
            `${stage} send`,
            { kind: SpanKind.PRODUCER, links: batchLink, attributes: { 'feedlog.stage': stage } },
            ctx,
          );
          s.end();
          return fromOtel(s.spanContext());
        },
        end(error) {
          if (error !== undefined) {
            span.recordException(error instanceof Error ? error : String(error));
            span.setStatus({
              code: SpanStatusCode.ERROR,
              message: error instanceof Error ? error.message : String(error),
            });
          }
          span.end();
        },
      };
    },
  };
}
