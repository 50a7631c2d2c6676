// One e2e benchmark run against a pipeline that is already running (the local stack, or a test's
// in-process pipeline): baselines first (so they do not compete with the load), then the load,
// then wait until every accepted item is searchable, then read everything back.
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FeedlogConfig } from '@feedlog/common';
import type pg from 'pg';
import { type BrokerBaseline, brokerBaseline, type EmbedderBaseline, embedderBaseline } from './baselines.ts';
import { type HeadlineSet, nthItem } from './headlines.ts';
import { type LagPoint, LagSeries } from './lag-series.ts';
import { pushLoad } from './loadgen.ts';
import {
  countSearchable,
  duplicateRows,
  type LatencyStat,
  latency,
  type StageName,
  type StageStat,
  stageStats,
  timeline,
} from './measure.ts';
import { ProcSampler, type ProcSummary } from './procstat.ts';

export interface E2EOptions {
  records: number;
  rate?: number;
  batch: number;
  concurrency: number;
  /** records for kafka-producer-perf-test (0: skip the broker baseline) */
  brokerBaselineRecords: number;
  /** texts for the embedder-alone baseline (0: skip) */
  embedderBaselineTexts: number;
  /** give up when nothing new became searchable for this long */
  stallMs: number;
  /** stop waiting this long after the start and report what is searchable by then (a partial run) */
  deadlineMs?: number;
}

export interface E2EEnv {
  cfg: FeedlogConfig;
  baseUrl: string;
  apiKey: string;
  /** the database the materializer writes (items, item_stages) */
  pool: pg.Pool;
  set: HeadlineSet;
  /** which consumer groups the lag series follows (default: the stack's pipeline groups) */
  lagGroups?: (g: string) => boolean;
  /** processes to measure: name → pid */
  pids: Record<string, number>;
  embedder: { baseUrl: string; model: string; kind: string };
  /** partitions of the input topic (the broker baseline's topic gets as many) */
  partitions: number;
  log: (s: string) => void;
}

export interface E2EResult {
  issue: 15;
  run: string;
  startedAt: string;
  dataset: string;
  embedder: E2EEnv['embedder'];
  options: E2EOptions;
  machine: { cores: number; loadBefore: number[]; loadAfter: number[] };
  push: { accepted: number; seconds: number; itemsPerSec: number; retries: number };
  /** lost: accepted but not searchable when the run ended; with stoppedEarly those may still be on their way */
  searchable: {
    items: number;
    lost: number;
    duplicates: number;
    seconds: number;
    itemsPerSec: number;
    stoppedEarly: boolean;
  };
  stages: Record<StageName, StageStat>;
  latencySeconds: LatencyStat;
  processes: Record<string, ProcSummary>;
  lag: { max: Record<string, number>; points: LagPoint[] };
  timeline: Record<StageName, number[]>;
  baselines: { broker?: BrokerBaseline; embedder?: EmbedderBaseline };
  ratios: Record<string, number>;
}

const round = (v: number, d = 3) => Number(v.toFixed(d));

export async function runE2E(o: E2EOptions, env: E2EEnv): Promise<E2EResult> {
  const { log, set } = env;
  const run = `bench-e2e-${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
  const loadBefore = loadavg().map((l) => round(l, 2));
  const startedAt = new Date().toISOString();
  // same bytes as the pushed items: the mean JSON size of the first thousand
  const sample = Array.from({ length: Math.min(1000, o.records) }, (_, i) => nthItem(set, run, i));
  const recordBytes = Math.round(sample.reduce((s, it) => s + JSON.stringify(it).length, 0) / sample.length);

  const baselines: E2EResult['baselines'] = {};
  if (o.brokerBaselineRecords > 0) {
    log(`baseline: kafka-producer/consumer-perf-test, ${o.brokerBaselineRecords} records of ${recordBytes} B`);
    baselines.broker = await brokerBaseline(env.cfg, o.brokerBaselineRecords, recordBytes, env.partitions, log);
    log(
      `  broker: produce ${baselines.broker.produceRecordsPerSec.toFixed(0)}/s, consume ${baselines.broker.consumeRecordsPerSec.toFixed(0)}/s`,
    );
  }
  if (o.embedderBaselineTexts > 0) {
    // the same mix of texts as the load (the UCI rows come first and are titles only, far shorter
    // than AG News' title + summary): items spread evenly over the ones the run pushes
    const n = o.embedderBaselineTexts;
    const titles = Array.from({ length: n }, (_, i) => {
      const r = nthItem(set, run, Math.floor((i * Math.max(o.records, n)) / n));
      return r.summary ? `${r.title}\n${r.summary}` : r.title;
    });
    log(`baseline: ${env.embedder.kind} embedder alone, ${titles.length} texts`);
    baselines.embedder = await embedderBaseline(env.embedder.baseUrl, env.embedder.model, titles);
    log(`  embedder: ${baselines.embedder.textsPerSec}/s`);
  }

  const wall0 = Date.now();
  const t0 = performance.now();
  const procs = new ProcSampler(env.pids);
  procs.start();
  const lag = new LagSeries(env.cfg, env.pool, wall0, env.lagGroups);
  lag.start();
  let lastLog = 0;
  const push = await pushLoad(
    {
      baseUrl: env.baseUrl,
      apiKey: env.apiKey,
      records: o.records,
      ...(o.rate ? { rate: o.rate } : {}),
      batch: o.batch,
      concurrency: o.concurrency,
      run,
      set,
      onProgress: (n) => {
        if (performance.now() - lastLog > 5_000) {
          lastLog = performance.now();
          log(`pushed ${n}/${o.records}`);
        }
      },
    },
    t0,
  );
  log(`pushed ${push.accepted} in ${push.seconds.toFixed(1)} s; waiting until every item is searchable`);

  let searchable = 0;
  let lastChange = performance.now();
  let stoppedEarly = false;
  while (searchable < push.accepted) {
    if (o.deadlineMs !== undefined && performance.now() - t0 > o.deadlineMs) {
      log(`deadline of ${o.deadlineMs / 1000} s: stopping with ${searchable}/${push.accepted} searchable`);
      stoppedEarly = true;
      break;
    }
    await sleep(1_000);
    const n = await countSearchable(env.pool, push.jobIds);
    if (n !== searchable) {
      searchable = n;
      lastChange = performance.now();
      if (performance.now() - lastLog > 5_000) {
        lastLog = performance.now();
        log(`searchable ${n}/${push.accepted}`);
      }
    } else if (performance.now() - lastChange > o.stallMs) {
      log(`nothing new for ${o.stallMs / 1000} s: stopping with ${n}/${push.accepted} searchable`);
      break;
    }
  }
  const processes = procs.stop();
  await lag.stop();
  const stages = await stageStats(env.pool, push.jobIds);
  const endToEnd = (performance.now() - t0) / 1000;
  // seconds from the first push to the last item searchable (from the rows, not the polling)
  const r = await env.pool.query<{ s: number | null }>(
    'SELECT extract(epoch FROM max(indexed_at))::float8 * 1000 - $2::float8 AS s FROM items WHERE job_id = ANY($1)',
    [push.jobIds, wall0],
  );
  const searchSeconds = round((r.rows[0]?.s ?? endToEnd * 1000) / 1000, 2);
  const result: E2EResult = {
    issue: 15,
    run,
    startedAt,
    dataset: set.dataset,
    embedder: env.embedder,
    options: o,
    machine: { cores: cpus().length, loadBefore, loadAfter: loadavg().map((l) => round(l, 2)) },
    push: {
      accepted: push.accepted,
      seconds: round(push.seconds, 2),
      itemsPerSec: round(push.accepted / push.seconds, 1),
      retries: push.retries,
    },
    searchable: {
      items: searchable,
      lost: push.accepted - searchable,
      duplicates: await duplicateRows(env.pool, push.jobIds),
      seconds: searchSeconds,
      itemsPerSec: round(searchable / searchSeconds, 1),
      stoppedEarly,
    },
    stages,
    latencySeconds: await latency(env.pool, push.jobIds),
    processes,
    lag: { max: lag.maxLag(), points: lag.points },
    timeline: await timeline(env.pool, push.jobIds, wall0),
    baselines,
    ratios: {},
  };
  const b = baselines.broker;
  if (b) {
    result.ratios.pushVsBrokerProduce = round(result.push.itemsPerSec / b.produceRecordsPerSec, 4);
    result.ratios.e2eVsBrokerProduce = round(result.searchable.itemsPerSec / b.produceRecordsPerSec, 4);
    result.ratios.e2eVsBrokerConsume = round(result.searchable.itemsPerSec / b.consumeRecordsPerSec, 4);
  }
  if (baselines.embedder) {
    result.ratios.e2eVsEmbedderAlone = round(result.searchable.itemsPerSec / baselines.embedder.textsPerSec, 3);
    result.ratios.embedStageVsEmbedderAlone = round(stages.embed.recordsPerSec / baselines.embedder.textsPerSec, 3);
  }
  return result;
}
