// CPU cost of the dashboard's event stream on the API, per connected page.
//   npx tsx bench/dashboard.ts [--clients 0,1,10,50] [--seconds 30] [--interval-ms 5000] [--json]
// The API runs in a child process built as production builds it (createServices → buildApp: the
// real LagMonitor on the broker, PostgreSQL for dead letters/jobs), on a deployment of its own
// (a unique topic prefix: every feedlog topic, 600 records in raw-headlines, and the five stage
// groups with committed offsets behind the log end, so each sample has real lag to read). This
// process opens N EventSource-style streams (fetch + text/event-stream, what EventSource does) and
// reads the child's process.cpuUsage() over IPC at the start and end of each phase. One phase per
// client count, in order; 0 = no page (the sampling loop is stopped).
// Needs Kafka, PostgreSQL and the registry running (`node bin/feedlog up`).
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp, createServices } from '@feedlog/api';
import { createKafka, loadConfig } from '@feedlog/common';
import { applyTopics, declareFeedlog, topicNames } from '@feedlog/topics';

interface Stats {
  cpu: NodeJS.CpuUsage;
  samples: number;
  sampleMs: number;
  subscribers: number;
  rss: number;
}

// ---- child: the API ----------------------------------------------------------------------------
if (process.argv[2] === '--serve') {
  const prefix = process.argv[3] ?? '';
  const intervalMs = Number(process.argv[4] ?? 5000);
  const config = loadConfig();
  const { settings: _s, ...opts } = createServices(config, { ...process.env, FEEDLOG_TOPIC_PREFIX: prefix });
  let sampleMs = 0;
  // the monitor's own timing of each sample (its report's tookMs)
  opts.lag?.subscribe((r) => {
    sampleMs += r.tookMs;
  });
  const app = await buildApp({
    ...opts,
    rateLimit: false,
    dashboard: { intervalMs, opsIntervalMs: intervalMs },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  process.on('message', (m: string) => {
    if (m === 'stats') {
      const s: Stats = {
        cpu: process.cpuUsage(),
        samples: app.dashboardFeed.samples,
        sampleMs,
        subscribers: app.dashboardFeed.subscribers,
        rss: process.memoryUsage().rss,
      };
      process.send?.(s);
    }
    if (m === 'stop') void app.close().then(() => process.exit(0));
  });
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
} else {
  await main();
}

// ---- parent: the pages -------------------------------------------------------------------------
async function main() {
  const args = process.argv.slice(2);
  const opt = (name: string, d: string) => (args.includes(name) ? (args[args.indexOf(name) + 1] ?? d) : d);
  const CLIENTS = opt('--clients', '0,1,10,50').split(',').map(Number);
  const SECONDS = Number(opt('--seconds', '30'));
  const INTERVAL = Number(opt('--interval-ms', '5000'));
  const log = (s: string) => process.stderr.write(`[bench/dashboard] ${s}\n`);
  const config = loadConfig();
  const kafka = createKafka(config, { clientId: 'bench-dashboard' });
  const prefix = `benchdash${Date.now().toString(36)}${randomBytes(2).toString('hex')}.`;
  const admin = kafka.admin();
  await admin.connect();
  await applyTopics({ admin, prefix });
  const producer = kafka.producer();
  await producer.connect();
  const raw = `${prefix}${topicNames.raw}`;
  await producer.send({
    topic: raw,
    messages: Array.from({ length: 600 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`bench ${i}`) })),
  });
  await producer.disconnect();
  // five stage groups of this deployment, each 100 records behind on its input partitions
  const d = declareFeedlog({ prefix });
  const ends = await admin.fetchTopicOffsets(raw);
  for (const s of d.stages.filter((x) => x.consumes.length)) {
    const groupId = `feedlog.${prefix}${s.name}.g1`;
    await admin.setOffsets({
      groupId,
      topic: raw,
      partitions: ends.map((p) => ({ partition: p.partition, offset: String(Math.max(0, Number(p.high) - 17)) })),
    });
  }

  const child = fork(new URL(import.meta.url).pathname, ['--serve', prefix, String(INTERVAL)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T>() => new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T)));
  const { port } = await next<{ port: number }>();
  const stats = async () => {
    const p = next<Stats>();
    child.send('stats');
    return p;
  };
  const base = `http://127.0.0.1:${port}`;

  const rows: Record<string, number | string>[] = [];
  for (const n of CLIENTS) {
    const ac = new AbortController();
    let bytes = 0;
    const streams = Array.from({ length: n }, async () => {
      try {
        const res = await fetch(`${base}/v1/events`, { signal: ac.signal });
        const reader = res.body!.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          bytes += value.byteLength;
        }
      } catch {
        // aborted at the end of the phase
      }
    });
    await sleep(1_500); // connections up, the loop started, its first sample out of the way
    const a = await stats();
    const load0 = loadavg()[0]!;
    const t0 = performance.now();
    const bytes0 = bytes;
    await sleep(SECONDS * 1000);
    const b = await stats();
    const wall = (performance.now() - t0) / 1000;
    ac.abort();
    await Promise.all(streams);
    const cpuMs = (b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system) / 1000;
    const samples = b.samples - a.samples;
    rows.push({
      pages: n,
      'API CPU ms/s': Number((cpuMs / wall).toFixed(2)),
      'CPU % of a core': Number(((cpuMs / wall / 1000) * 100).toFixed(2)),
      'lag samples': samples,
      'sample ms (mean)': samples ? Number(((b.sampleMs - a.sampleMs) / samples).toFixed(1)) : '-',
      'kB/s sent to pages': Number(((bytes - bytes0) / 1024 / wall).toFixed(1)),
      'subscribers seen': b.subscribers,
      'load avg (1 min)': Number(load0.toFixed(2)),
    });
    log(JSON.stringify(rows.at(-1)));
    await sleep(1_000);
  }
  const base0 = Number(rows.find((r) => r.pages === 0)?.['API CPU ms/s'] ?? 0);
  const base1 = Number(rows.find((r) => r.pages === 1)?.['API CPU ms/s'] ?? 0);
  for (const r of rows) {
    const n = Number(r.pages);
    r['ms/s per page above 1 page'] = n > 1 ? Number(((Number(r['API CPU ms/s']) - base1) / (n - 1)).toFixed(3)) : '-';
  }
  child.send('stop');
  await new Promise((r) => child.once('exit', r));
  await admin.deleteTopics({ topics: d.topics.map((t) => t.name) }).catch(() => undefined);
  await admin.deleteGroups(d.stages.map((s) => `feedlog.${prefix}${s.name}.g1`)).catch(() => undefined);
  await admin.disconnect();
  if (args.includes('--json'))
    console.log(JSON.stringify({ interval: INTERVAL, seconds: SECONDS, idleBaseline: base0, rows }));
  else console.table(rows);
}
