import type { AddressInfo } from 'node:net';
import type { GroupLag, LagMonitor, LagReport } from '@feedlog/lag';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { testApp } from './helpers.ts';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const group = (stage: string, lag: number, committed: number): GroupLag => ({
  group: `feedlog.${stage}.g1`,
  offsetsIn: 'kafka',
  stage,
  generation: 1,
  state: 'Stable',
  members: [],
  status: 'OK',
  lag,
  lagSeconds: 0,
  rateIn: null,
  rateOut: null,
  partitions: [
    {
      topic: 'raw-headlines',
      partition: 0,
      committedOffset: committed,
      logStartOffset: 0,
      logEndOffset: committed + lag,
      lag,
      lagSeconds: 0,
      status: 'OK',
      markerOnly: false,
      complete: 1,
    },
  ],
});

/** A lag source counting its calls (unit tests only: the real one is @feedlog/lag's LagMonitor on a broker). */
function countingLag() {
  let n = 0;
  let last: LagReport | undefined;
  const source = {
    calls: () => n,
    last: () => last,
    close: async () => {},
    async sample(): Promise<LagReport> {
      n++;
      last = {
        at: new Date().toISOString(),
        tookMs: 1,
        warnings: [],
        groups: [
          group('classify', 5, n * 10),
          { ...group('other', 1, 1), group: 'somebody-else', stage: 'x', partitions: [] },
        ],
      };
      return last;
    },
  };
  // the app takes @feedlog/lag's LagMonitor; this stand-in has the part of it the app calls
  return { ...source, monitor: source as unknown as LagMonitor };
}

/** Read server-sent events from a listening app until `until` says stop. */
async function readEvents(
  base: string,
  until: (events: { event: string; data: string }[]) => boolean,
  ac = new AbortController(),
) {
  const res = await fetch(`${base}/v1/events`, { signal: ac.signal });
  const events: { event: string; data: string }[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  while (!until(events)) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i = buf.indexOf('\n\n');
    while (i >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data !== undefined) events.push({ event, data });
      i = buf.indexOf('\n\n');
    }
  }
  ac.abort();
  return { res, events };
}

describe('dashboard page', () => {
  it('serves the page and its assets with a strict CSP, nosniff, no framing and cache validators', async () => {
    app = (await testApp()).app;
    const page = await app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.body).not.toMatch(/<script>|style="|https?:\/\//); // no inline code, nothing from elsewhere
    const again = await app.inject({ url: '/', headers: { 'if-none-match': String(page.headers.etag) } });
    expect(again.statusCode).toBe(304);

    const vendor = /src="(\/dashboard\/vendor\/uplot-[\d.]+\.min\.js)"/.exec(page.body)?.[1];
    expect(vendor).toBeDefined();
    const lib = await app.inject({ url: vendor! });
    expect(lib.statusCode).toBe(200);
    expect(lib.headers['cache-control']).toContain('immutable');
    expect(lib.body).toContain('uPlot');
    for (const a of ['/dashboard/app.js', '/dashboard/app.css'])
      expect((await app.inject({ url: a })).statusCode).toBe(200);
    expect((await app.inject({ url: '/dashboard/nope.js' })).statusCode).toBe(404);

    const graph = (await app.inject({ url: '/v1/dashboard/graph' })).json() as {
      nodes: { id: string }[];
      stages: string[];
    };
    expect(graph.stages).toEqual(['classify', 'cluster', 'embed', 'index', 'materialize']);
    expect(graph.nodes.map((n) => n.id)).toEqual(
      expect.arrayContaining(['topic:raw-headlines', 'stage:embed', 'topic:embed.dlq', 'sink:postgres', 'sink:index']),
    );
  });

  it('one sampling loop for every page, running only while a page is connected', async () => {
    const lag = countingLag();
    app = (await testApp({ lag: lag.monitor, dashboard: { intervalMs: 100 } })).app;
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const feed = app.dashboardFeed;
    expect(feed.running).toBe(false);

    const pages = Array.from({ length: 5 }, () =>
      readEvents(base, (ev) => ev.filter((e) => e.event === 'point').length >= 3),
    );
    const results = await Promise.all(pages);
    const res = results[0]!.res;
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    // five pages, one loop: samples ≈ points one page saw, not five times that
    const calls = lag.calls();
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(calls).toBeLessThan(3 + 5);
    const lagEvent = JSON.parse(results[0]!.events.find((e) => e.event === 'lag')!.data) as {
      groups: { group: string; stage: string }[];
    };
    expect(lagEvent.groups.map((g) => g.group)).toEqual(['feedlog.classify.g1']); // groups of other pipelines are not shown
    const point = JSON.parse(results[0]!.events.filter((e) => e.event === 'point')[2]!.data) as {
      lag: Record<string, number>;
      rate: Record<string, number>;
    };
    expect(point.lag.classify).toBe(5);
    expect(point.rate.classify).toBeGreaterThan(0);

    await new Promise((r) => setTimeout(r, 300)); // the pages' connections close
    expect(feed.subscribers).toBe(0);
    const stopped = lag.calls();
    await new Promise((r) => setTimeout(r, 400));
    expect(lag.calls()).toBe(stopped);

    // a page connecting later gets the history at once
    const late = await readEvents(base, (ev) => ev.length >= 1);
    expect(late.events[0]?.event).toBe('history');
    expect((JSON.parse(late.events[0]!.data) as unknown[]).length).toBeGreaterThanOrEqual(3);
  });

  it('a /metrics scrape takes a fresh sample and holds the loop for a while, then it stops', async () => {
    const lag = countingLag();
    app = (await testApp({ lag: lag.monitor, dashboard: { intervalMs: 100, metricsHoldMs: 500 } })).app;
    expect(lag.calls()).toBe(0);
    const m = await app.inject({ url: '/metrics' });
    expect(m.statusCode).toBe(200);
    expect(lag.calls()).toBe(1); // sampled before the gauges were collected
    expect(m.body).toMatch(
      /feedlog_consumer_lag_records\{group="feedlog.classify.g1",topic="raw-headlines",partition="0"\} 5/,
    );
    await new Promise((r) => setTimeout(r, 350));
    expect(lag.calls()).toBeGreaterThan(1); // held
    await new Promise((r) => setTimeout(r, 400));
    const after = lag.calls();
    await new Promise((r) => setTimeout(r, 400));
    expect(lag.calls()).toBe(after); // the hold expired: no more samples
    expect(app.dashboardFeed.running).toBe(false);
  });
});
