import { classifyStage, loadClassifyModel } from '@feedlog/classify/stage';
import { runClusterStage } from '@feedlog/cluster/run-cluster';
import { clusterStage } from '@feedlog/cluster/stage';
import { formatTraceparent, parseTraceparent, runStage } from '@feedlog/runtime';
import { serdeFor } from '@feedlog/schemas';
import { setupTelemetry } from '@feedlog/telemetry';
import { applyPrefixedTopics, deletePrefixedTopics, readCommitted, testKafka, uniquePrefix } from '@feedlog/test';
import { topicNames } from '@feedlog/topics';
import { SpanKind, trace } from '@opentelemetry/api';
import { tracing } from '@opentelemetry/sdk-node';
import { afterAll, describe, expect, it } from 'vitest';
import { generateHeadlines } from './pipeline-helpers.ts';

describe('a trace started at the producer crosses both stages', () => {
  const kafka = testKafka('pipeline-trace');
  const prefix = uniquePrefix('trace');
  afterAll(async () => {
    await deletePrefixedTopics(kafka, prefix);
  });

  it('exports linked spans: producer → classify batch/send → cluster batch/send, and /metrics counts both stages', async () => {
    const exporter = new tracing.InMemorySpanExporter();
    const telemetry = await setupTelemetry({
      serviceName: 'feedlog-trace-test',
      spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
      metricsPort: 0,
      defaultMetrics: false,
    });
    expect(telemetry.tracing).toBe('custom');
    expect(telemetry.tracer).toBeDefined();
    await applyPrefixedTopics(kafka, prefix);
    const t = (base: string) => `${prefix}${base}`;
    const serde = { autoRegister: true, prefix };
    const rawSerde = serdeFor('RawHeadline', t(topicNames.raw), serde);
    const clusteredSerde = serdeFor('ClusteredHeadline', t(topicNames.clustered), serde);
    await Promise.all([
      serdeFor('ClassifiedHeadline', t(topicNames.classified), serde).schemaId(),
      clusteredSerde.schemaId(),
      serdeFor('DeadLetter', t('classify.dlq'), serde).schemaId(),
      serdeFor('DeadLetter', t('cluster.dlq'), serde).schemaId(),
    ]);

    // the producer: a root span whose context goes on the first 40 messages; 40 more carry none
    const root = trace.getTracer('test-producer').startSpan('ingest send', { kind: SpanKind.PRODUCER, root: true });
    const rootCtx = root.spanContext();
    const traceparent = formatTraceparent({ traceId: rootCtx.traceId, spanId: rootCtx.spanId, flags: 1 });
    const items = generateHeadlines(80);
    const traced = new Set(items.slice(0, 40).map((g) => g.raw.item_id));
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic: t(topicNames.raw),
      acks: -1,
      messages: await Promise.all(
        items.map(async (g) => ({
          key: g.raw.item_id,
          value: await rawSerde.encode(g.raw),
          ...(traced.has(g.raw.item_id) ? { headers: { traceparent } } : {}),
        })),
      ),
    });
    await producer.disconnect();
    root.end();

    const classify = await runStage(
      classifyStage({ model: loadClassifyModel(undefined), prefix, tracer: telemetry.tracer }),
      { kafka, clientId: 'trace-classify' },
    );
    const cluster = await runClusterStage(
      clusterStage({ prefix, ...(telemetry.tracer ? { tracer: telemetry.tracer } : {}) }),
      {
        kafka,
        clientId: 'trace-cluster',
        maxIdleMs: 5_000,
      },
    );
    try {
      const out = await readCommitted(kafka, t(topicNames.clustered), items.length, { quietMs: 1_000 });
      expect(out).toHaveLength(items.length);

      const spans = exporter.getFinishedSpans();
      const id = (s: tracing.ReadableSpan) => s.spanContext().spanId;
      const byId = new Map(spans.map((s) => [id(s), s]));
      const named = (n: string) => spans.filter((s) => s.name === n);
      const classifyBatches = named(`${prefix}classify process`);
      const classifySends = named(`${prefix}classify send`);
      const clusterBatches = named(`${prefix}cluster process`);
      const clusterSends = named(`${prefix}cluster send`);
      expect(classifyBatches.length).toBeGreaterThan(0);
      expect(clusterBatches.length).toBeGreaterThan(0);

      // classify: batch spans link to the producer's span; one send span per traced record, child of it
      expect(classifyBatches.some((s) => s.links.some((l) => l.context.spanId === rootCtx.spanId))).toBe(true);
      expect(classifySends).toHaveLength(traced.size);
      for (const s of classifySends) {
        expect(s.spanContext().traceId).toBe(rootCtx.traceId);
        expect(s.parentSpanContext?.spanId).toBe(rootCtx.spanId);
        expect(s.kind).toBe(SpanKind.PRODUCER);
        const batch = byId.get(s.links[0]?.context.spanId as string);
        expect(batch?.name).toBe(`${prefix}classify process`);
      }
      const classifySendIds = new Set(classifySends.map(id));

      // cluster: batch spans link to classify's send spans (from the classified records' traceparent)
      const linkedFromCluster = new Set(clusterBatches.flatMap((s) => s.links.map((l) => l.context.spanId)));
      expect([...classifySendIds].every((x) => linkedFromCluster.has(x))).toBe(true);
      for (const s of clusterBatches) expect(s.kind).toBe(SpanKind.CONSUMER);
      // every classified record carries a sampled context (a classify send span, or for the records
      // that came without one, the classify batch span that started their trace), so cluster makes a
      // send span per record: a child of the classify send span for the producer's records
      const classifyBatchIds = new Set(classifyBatches.map(id));
      expect(clusterSends).toHaveLength(items.length);
      const fromProducer = clusterSends.filter((s) => s.spanContext().traceId === rootCtx.traceId);
      expect(fromProducer).toHaveLength(traced.size);
      for (const s of fromProducer) expect(classifySendIds.has(s.parentSpanContext?.spanId as string)).toBe(true);
      for (const s of clusterSends.filter((x) => x.spanContext().traceId !== rootCtx.traceId))
        expect(classifyBatchIds.has(s.parentSpanContext?.spanId as string)).toBe(true);

      // what the clustered records carry: the producer's trace for the traced items, a cluster send span for all
      const clusterSendIds = new Set(clusterSends.map(id));
      for (const m of out) {
        const tp = parseTraceparent(m.headers?.traceparent?.toString());
        expect(tp).toBeDefined();
        expect(clusterSendIds.has(tp?.spanId as string)).toBe(true);
        if (traced.has(m.key?.toString() ?? '')) expect(tp?.traceId).toBe(rootCtx.traceId);
        else expect(tp?.traceId).not.toBe(rootCtx.traceId);
      }

      // Prometheus text from the /metrics endpoint, labelled by stage and generation
      const res = await fetch(`http://127.0.0.1:${telemetry.metricsPort}/metrics`);
      expect(res.status).toBe(200);
      const text = await res.text();
      const value = (metric: string, stage: string) => {
        const line = text
          .split('\n')
          .find((l) => l.startsWith(`${metric}{`) && l.includes(`stage="${stage}"`) && l.includes('generation="1"'));
        return line ? Number(line.split(' ').pop()) : undefined;
      };
      expect(value('feedlog_stage_records_in_total', `${prefix}classify`)).toBe(items.length);
      expect(value('feedlog_stage_records_out_total', `${prefix}cluster`)).toBe(items.length);
      expect(value('feedlog_stage_dlq_total', `${prefix}classify`)).toBe(0);
      expect(text).toMatch(/feedlog_stage_transform_duration_seconds_bucket\{/);
      expect(value('feedlog_stage_batch_duration_seconds_count', `${prefix}cluster`)).toBeGreaterThan(0);
    } finally {
      await Promise.all([classify.stop(), cluster.stop()]);
      await telemetry.shutdown();
    }
  });
});
