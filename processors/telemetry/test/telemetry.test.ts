import { childSpan, publish } from '@feedlog/runtime';
import { tracing } from '@opentelemetry/sdk-node';
import { describe, expect, it } from 'vitest';
import { MAX_LINKS, otelStageTracer, serveMetrics, stageMetrics } from '../src/index.ts';

function tracerWithExporter() {
  const exporter = new tracing.InMemorySpanExporter();
  const provider = new tracing.BasicTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(exporter)] });
  return { exporter, tracer: provider.getTracer('test') };
}

describe('otelStageTracer', () => {
  it('links the batch span to every input span and makes send spans children of sampled inputs', () => {
    const { exporter, tracer } = tracerWithExporter();
    const st = otelStageTracer({ tracer });
    const a = childSpan();
    const b = childSpan();
    const unsampled = { ...childSpan(), flags: 0 };
    const batch = st.startBatch({ stage: 'classify', topic: 'raw', partition: 3, links: [a, b, a, unsampled] });
    const outA = batch.recordContext(a);
    const outNone = batch.recordContext(undefined);
    const outUnsampled = batch.recordContext(unsampled);
    batch.end();
    const spans = exporter.getFinishedSpans();
    const process = spans.find((s) => s.name === 'classify process');
    const send = spans.find((s) => s.name === 'classify send');
    expect(process).toBeDefined();
    expect(process?.links.map((l) => l.context.spanId)).toEqual([a.spanId, b.spanId, unsampled.spanId]); // deduplicated
    expect(process?.attributes['messaging.destination.partition.id']).toBe('3');
    expect(process?.attributes['messaging.batch.message_count']).toBe(4);
    expect(process?.parentSpanContext).toBeUndefined();
    expect(send?.parentSpanContext?.spanId).toBe(a.spanId);
    expect(send?.spanContext().traceId).toBe(a.traceId);
    expect(send?.links[0]?.context.spanId).toBe(process?.spanContext().spanId);
    expect(outA).toEqual({ traceId: a.traceId, spanId: send?.spanContext().spanId, flags: 1 });
    // no sampled parent: the output points at the batch span
    expect(outNone.spanId).toBe(batch.context.spanId);
    expect(outUnsampled.spanId).toBe(batch.context.spanId);
    expect(spans.filter((s) => s.name === 'classify send')).toHaveLength(1);
  });

  it('caps links and records errors on the batch span', () => {
    const { exporter, tracer } = tracerWithExporter();
    const links = Array.from({ length: MAX_LINKS + 50 }, () => childSpan());
    const batch = otelStageTracer({ tracer, recordSpans: false }).startBatch({
      stage: 's',
      topic: 't',
      partition: 0,
      links,
    });
    expect(batch.recordContext(links[0])).toEqual(batch.context);
    batch.end(new Error('boom'));
    const [span] = exporter.getFinishedSpans();
    expect(span?.links).toHaveLength(MAX_LINKS);
    expect(span?.attributes['feedlog.links_dropped']).toBe(50);
    expect(span?.status.code).toBe(2);
    expect(span?.events.some((e) => e.name === 'exception')).toBe(true);
  });
});

describe('stageMetrics', () => {
  it('counts batch, dlq and retry events by stage and generation and serves them on /metrics', async () => {
    const m = stageMetrics({ defaultMetrics: false, labels: { service: 'unit' } });
    const batch = {
      stage: 'unit-stage',
      generation: 4,
      topic: 'in',
      partition: 1,
      firstOffset: '0',
      lastOffset: '9',
      recordsIn: 10,
      recordsOut: 8,
      dlq: 2,
      bytesIn: 1000,
      batchMs: 12,
      transformMs: 3,
      commitMs: 7,
      mode: 'exactly-once' as const,
      lag: 40,
    };
    publish('batch', batch);
    publish('batch', { ...batch, recordsIn: 5, recordsOut: 5, dlq: 0, lag: 35 });
    publish('dlq', {
      stage: 'unit-stage',
      topic: 'in',
      partition: 1,
      offset: '3',
      errorClass: 'PoisonRecordError',
      message: 'x',
      attempts: 1,
    });
    const served = await serveMetrics(m.registry, 0, '127.0.0.1');
    try {
      const res = await fetch(`http://127.0.0.1:${served.port}/metrics`);
      const text = await res.text();
      // one sample line: the metric name and every given label, in any order
      const line = (name: string, labels: Record<string, string> = {}) =>
        text
          .split('\n')
          .find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
      const labels = { stage: 'unit-stage', generation: '4', service: 'unit' };
      expect(line('feedlog_stage_records_in_total', labels)?.endsWith(' 15')).toBe(true);
      expect(line('feedlog_stage_records_out_total', labels)?.endsWith(' 13')).toBe(true);
      expect(line('feedlog_stage_dlq_total', labels)?.endsWith(' 2')).toBe(true);
      expect(
        line('feedlog_stage_dlq_by_error_total', { ...labels, error_class: 'PoisonRecordError' })?.endsWith(' 1'),
      ).toBe(true);
      expect(line('feedlog_stage_lag_records', { ...labels, partition: '1' })?.endsWith(' 35')).toBe(true);
      expect(line('feedlog_stage_transform_duration_seconds_count', labels)?.endsWith(' 2')).toBe(true);
      expect(line('feedlog_stage_commit_duration_seconds_bucket', { ...labels, le: '0.01' })?.endsWith(' 2')).toBe(
        true,
      );
      expect(line('feedlog_stage_commit_duration_seconds_bucket', { ...labels, le: '0.005' })?.endsWith(' 0')).toBe(
        true,
      );
      expect((await fetch(`http://127.0.0.1:${served.port}/other`)).status).toBe(404);
    } finally {
      m.close();
      await served.close();
    }
    // unsubscribed: later events change nothing
    publish('batch', batch);
    expect((await m.registry.getSingleMetric('feedlog_stage_records_in_total')?.get())?.values[0]?.value).toBe(15);
  });
});
