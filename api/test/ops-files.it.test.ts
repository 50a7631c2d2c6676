import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LagMonitor } from '@feedlog/lag';
import { stageMetrics } from '@feedlog/telemetry';
import { testKafka } from '@feedlog/test';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { testApp } from './helpers.ts';

const root = resolve(import.meta.dirname, '../..');

/** Every `feedlog_*` series name in a PromQL expression (histogram suffixes kept; checked below). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\bfeedlog_[a-zA-Z0-9_:]+/g)].map((m) => m[0]);
}

/** Names a Prometheus scrape of this exposition text yields (histograms and summaries expand). */
function exposed(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    out.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) out.add(name + s);
  }
  return out;
}

describe('ops/: the Grafana dashboard and the Prometheus alert rules name only metrics feedlog exposes', () => {
  it('every metric of ops/grafana/feedlog-dashboard.json and ops/prometheus/alerts.yml is on the API or a stage /metrics', async () => {
    const dashboard = JSON.parse(readFileSync(resolve(root, 'ops/grafana/feedlog-dashboard.json'), 'utf8')) as {
      panels: { targets?: { expr: string }[] }[];
    };
    const rules = parse(readFileSync(resolve(root, 'ops/prometheus/alerts.yml'), 'utf8')) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const referenced = new Set([
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr))),
      ...rules.groups.flatMap((g) => g.rules.flatMap((r) => metricNames(r.expr))),
    ]);
    expect(rules.groups.flatMap((g) => g.rules.map((r) => r.alert))).toEqual(
      expect.arrayContaining(['FeedlogConsumerLagStatusNotOK', 'FeedlogDeadLettersGrowing', 'FeedlogBreakerOpen']),
    );
    expect(referenced.size).toBeGreaterThan(8);

    const { app } = await testApp({ lag: new LagMonitor({ kafka: testKafka('ops-files-it'), groups: [] }) });
    const stage = stageMetrics({ defaultMetrics: false });
    try {
      const api = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      const available = new Set([...exposed(api), ...exposed(await stage.registry.metrics())]);
      expect([...referenced].filter((n) => !available.has(n))).toEqual([]);
    } finally {
      stage.close();
      await app.close();
    }
  });
});
