/**
 * Embed-stage throughput as a share of the embedder's own, same run, same texts, same endpoint.
 *
 *   npx tsx bench/embed.ts [--records 1500] [--batch 32] [--concurrency 4] [--rounds 5] [--model all-MiniLM-L6-v2-int8] [--summaries] [--client] [--cache] [--json]
 *
 * Starts the local embedder (processors/embedder/src/main.ts) as a child process on a free port
 * (models from the cache; PyPI once), then per round, in turn:
 *   alone   the openai client straight at the embedder: `records` texts as requests of `batch`,
 *           `concurrency` requests in flight (the ceiling the stage can reach);
 *   client  (--client) @feedlog/embed's EmbeddingClient (bulkhead, retry policy, breaker, base64
 *           decode, normalisation check), no Kafka;
 *   stage   the embed stage through the real broker + registry: `records` ClusteredHeadline records
 *           (Avro) on 6 partitions of `clustered`, read_committed, exactly-once transactions per
 *           partition batch, EmbeddedHeadline (Avro, f32le vectors) to `embedded`. Each round is a
 *           new generation (new consumer group) over the same input. Rate = records / (start of the
 *           first batch → commit of the last), from the runtime's batch events (group join excluded).
 * --cache: the stage's client uses the PostgreSQL embedding cache (migration 0006, in a schema of
 *   the bench's own), emptied before every round, so each round is a replay with a model the cache
 *   has never seen (every text misses: lookups and writes are paid on top of embedding); then one
 *   more replay (a new generation) with the cache warm from the last round: its rate, hit rate and
 *   the texts it sent to the embedder. The time spent in cache reads and writes is reported per
 *   1000 headlines (the figure the storage was chosen by).
 * Texts: UCI headlines (titles; ../shared/data), or with --summaries AG News title + description,
 * else the embedder's fixture headlines; as embeddingText() shapes them. `alone` and `stage` take
 * turns (A B, B A, …) so load drift on a shared machine hits both; medians over rounds; the ratio
 * is stage / alone per round, median.
 * Diagnostics per leg, steadier than rates on a busy machine: the share of time all `concurrency`
 * requests were out (does the pipeline keep the endpoint fed?), the embedder's CPU ms per 1000
 * headlines (/proc: is it doing the same work?) and this process's (the stage's own CPU cost:
 * kafkajs, Avro, transactions, client; on a 2-core box it comes out of the embedder's budget).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadDataset } from '@feedlog/classify';
import { createKafka, loadConfig } from '@feedlog/common';
import {
  type EmbeddingCache,
  EmbeddingClient,
  embeddingSettings,
  embeddingText,
  embedStage,
  PgEmbeddingCache,
} from '@feedlog/embed';
import { LocalEmbedder } from '@feedlog/embed/embedder-process';
import { migrate } from '@feedlog/migrations';
import { Breaker, runStage, subscribe } from '@feedlog/runtime';
import { type ClusteredHeadline, itemId, serdeFor } from '@feedlog/schemas';
import { applyTopics, declareFeedlog, topicNames } from '@feedlog/topics';
import { parse } from 'csv-parse/sync';
import OpenAI from 'openai';
import pg from 'pg';
import { Registry } from 'prom-client';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1500' },
    batch: { type: 'string', default: '32' },
    concurrency: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '5' },
    model: { type: 'string', default: 'all-MiniLM-L6-v2-int8' },
    summaries: { type: 'boolean', default: false },
    client: { type: 'boolean', default: false },
    cache: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.records);
const BATCH = Number(values.batch);
const CONC = Number(values.concurrency);
const ROUNDS = Number(values.rounds);
const MODEL = values.model;
const log = (s: string) => process.stderr.write(`${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

// ---- texts
const shared = process.env.FEEDLOG_SHARED_DATA ?? fileURLToPath(new URL('../../shared/data', import.meta.url));
const ucPath = `${shared}/uci/stories-dev.csv`;
const agPath = `${shared}/ag_news/ag_news-dev.csv`;
let source: string;
let rows: { title: string; summary: string | null }[];
if (values.summaries && existsSync(agPath)) {
  source = `AG News title + description (${agPath})`;
  rows = loadDataset(agPath, 'agnews').examples.map((e) => ({ title: e.title, summary: e.summary ?? null }));
} else if (existsSync(ucPath)) {
  source = `UCI headlines (${ucPath})`;
  rows = loadDataset(ucPath, 'uci').examples.map((e) => ({ title: e.title, summary: null }));
} else {
  const fixture = fileURLToPath(new URL('../processors/embedder/test/fixtures/headlines.csv', import.meta.url));
  source = `fixture headlines (${fixture}; ../shared/data not found)`;
  rows = (parse(readFileSync(fixture), { columns: true }) as { TITLE: string }[]).map((r) => ({
    title: r.TITLE,
    summary: null,
  }));
}
const records: ClusteredHeadline[] = Array.from({ length: N }, (_, i) => {
  const r = rows[i % rows.length] as { title: string; summary: string | null };
  const url = `https://bench.example/embed/${i}`;
  const run = (model_name: string) => ({ model_name, model_version: '1', generation: 1, produced_at: Date.now() });
  return {
    item_id: itemId({ source: 'bench', guid: null, url }),
    job_id: 'bench-embed',
    headline: {
      source: 'bench',
      guid: null,
      url,
      title: r.title,
      summary: r.summary,
      published_at: null,
      ingested_at: Date.now(),
    },
    classification: { category: 'business', confidence: 1, run: run('bench') },
    story: { story_id: `s-${i}`, similarity: 1, is_new: true, run: run('bench') },
  };
});
const texts = records.map((r) => embeddingText(r.headline));

// ---- endpoint
log(`starting the local embedder (${MODEL})…`);
const embedder = await LocalEmbedder.start({ models: [MODEL] });
const settings = embeddingSettings({ baseUrl: embedder.baseUrl, model: MODEL, batchSize: BATCH, concurrency: CONC });

// ---- embedding cache (--cache): PostgreSQL, a schema of the bench's own; time spent in it is measured
const cacheMs = { get: 0, put: 0 };
/** cacheMs when the cold rounds ended (the warm replay's reads come after) */
const coldCacheMs = { get: 0, put: 0 };
let cachePool: pg.Pool | undefined;
let cacheSchema = '';
let cache: EmbeddingCache | undefined;
if (values.cache) {
  cacheSchema = `bench_embedcache_${Date.now().toString(36)}`;
  const url = loadConfig().postgres.url;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${cacheSchema}"`);
  await admin.end();
  cachePool = new pg.Pool({ connectionString: url, max: 4, options: `-c search_path=${cacheSchema}` });
  await migrate(cachePool);
  const pgCache = new PgEmbeddingCache(cachePool);
  cache = {
    getMany: async (m, t) => {
      const t0 = performance.now();
      try {
        return await pgCache.getMany(m, t);
      } finally {
        cacheMs.get += performance.now() - t0;
      }
    },
    putMany: async (m, e) => {
      const t0 = performance.now();
      try {
        return await pgCache.putMany(m, e);
      } finally {
        cacheMs.put += performance.now() - t0;
      }
    },
    close: () => pgCache.close(),
  };
}

/** CPU seconds spent by the embedder process (all its threads, from /proc) and by this process, since the call */
function cpuMeter(): () => { embedder: number; self: number } {
  const ticks = () => {
    try {
      const f = readFileSync(`/proc/${embedder.pid}/stat`, 'utf8');
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
      return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (USER_HZ = 100)
    } catch {
      return Number.NaN; // no /proc: not Linux
    }
  };
  const e0 = ticks();
  const s0 = process.cpuUsage();
  return () => {
    const s = process.cpuUsage(s0);
    return { embedder: (ticks() - e0) / 100, self: (s.user + s.system) / 1e6 };
  };
}

/** samples `inFlight()` every 5 ms from the first request on: the share of time with all CONC requests out */
function saturation(inFlight: () => number): () => number {
  let full = 0;
  let n = 0;
  const t = setInterval(() => {
    const k = inFlight();
    if (n === 0 && k === 0) return;
    n++;
    if (k >= CONC) full++;
  }, 5);
  return () => {
    clearInterval(t);
    return n ? full / n : 0;
  };
}

/** the openai client alone: requests of BATCH, CONC in flight, over all texts */
interface Leg {
  rate: number;
  saturated: number;
  cpu: { embedder: number; self: number };
}

async function alone(): Promise<Leg> {
  const client = new OpenAI({ baseURL: embedder.baseUrl, apiKey: 'unused', maxRetries: 0 });
  let next = 0;
  let active = 0;
  const sat = saturation(() => active);
  const cpu = cpuMeter();
  const t0 = performance.now();
  const loop = async () => {
    for (;;) {
      const at = next;
      next += BATCH;
      if (at >= texts.length) return;
      const input = texts.slice(at, at + BATCH);
      active++;
      const r = await client.embeddings.create({ model: MODEL, input, encoding_format: 'base64' });
      active--;
      if (r.data.length !== input.length) throw new Error('short answer');
    }
  };
  await Promise.all(Array.from({ length: CONC }, loop));
  const rate = N / ((performance.now() - t0) / 1000);
  return { rate, saturated: sat(), cpu: cpu() };
}

/** @feedlog/embed's client alone (breaker, bulkhead, retry policy, decode) */
async function viaClient(): Promise<number> {
  const client = new EmbeddingClient(settings, { registry: new Registry() });
  const breaker = new Breaker('embedder');
  const t0 = performance.now();
  const r = await client.embed(texts, { breaker });
  if (r.results.some((x) => x instanceof Error)) throw new Error('an input was refused');
  return N / ((performance.now() - t0) / 1000);
}

// ---- broker
const config = loadConfig();
const kafka = createKafka(config, { clientId: 'bench-embed' });
const prefix = `bench.embed.${Date.now().toString(36)}${randomBytes(2).toString('hex')}.`;
const serde = { prefix, autoRegister: true };
const admin = kafka.admin();
await applyTopics({ admin, prefix });
{
  const clustered = serdeFor('ClusteredHeadline', `${prefix}${topicNames.clustered}`, serde);
  await serdeFor('EmbeddedHeadline', `${prefix}${topicNames.embedded}`, serde).schemaId();
  await serdeFor('DeadLetter', `${prefix}embed.dlq`, serde).schemaId();
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  for (let i = 0; i < N; i += 1000) {
    const messages = await Promise.all(
      records
        .slice(i, i + 1000)
        .map(async (r, j) => ({ key: r.item_id, value: await clustered.encode(r), partition: (i + j) % 6 })),
    );
    await producer.send({ topic: `${prefix}${topicNames.clustered}`, acks: -1, messages });
  }
  await producer.disconnect();
}

interface StageLeg extends Leg {
  batches: number;
  dlq: number;
  /** texts answered from the cache / sent to the embedder */
  hits: number;
  sent: number;
}

async function throughStage(generation: number, warm = false): Promise<StageLeg> {
  if (cachePool && !warm) await cachePool.query('TRUNCATE embedding_cache');
  const registry = new Registry();
  const client = new EmbeddingClient(settings, { registry, ...(cache ? { cache } : {}) });
  const total = async (name: string) =>
    ((await registry.getSingleMetric(name)?.get())?.values ?? []).reduce((a, v) => a + v.value, 0);
  const stage = embedStage({ settings, client, prefix, generation, serde: { autoRegister: false } });

  let recordsIn = 0;
  let dlq = 0;
  let batches = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  const off = subscribe('batch', (e) => {
    if (e.stage !== stage.name || e.generation !== generation) return;
    const now = performance.now();
    first = Math.min(first, now - e.batchMs);
    last = Math.max(last, now);
    recordsIn += e.recordsIn;
    dlq += e.dlq;
    batches++;
    if (recordsIn >= N) resolveDone();
  });
  const sat = saturation(() => client.inFlight);
  const cpu = cpuMeter();
  const running = await runStage(stage, { kafka, clientId: `bench-embed-g${generation}` });
  let saturated = 0;
  const progress = setInterval(() => log(`  stage g${generation}: ${recordsIn}/${N} in ${batches} batches`), 10_000);
  try {
    await Promise.race([
      done,
      new Promise((_, rej) =>
        setTimeout(() => rej(new Error(`stage g${generation}: ${recordsIn}/${N} after 10 min`)), 600_000),
      ),
    ]);
  } finally {
    saturated = sat();
    clearInterval(progress);
    off();
    await running.stop();
  }
  return {
    rate: N / ((last - first) / 1000),
    batches,
    dlq,
    saturated,
    cpu: cpu(),
    hits: await total('embedding_cache_hits_total'),
    sent: await total('embedding_inputs_total'),
  };
}

log(`${N} texts from ${source}; batch ${BATCH}, ${CONC} in flight; ${ROUNDS} rounds; ${availableParallelism()} cores`);
const res = {
  alone: [] as number[],
  client: [] as number[],
  stage: [] as number[],
  ratio: [] as number[],
  satAlone: [] as number[],
  satStage: [] as number[],
  embCpuAlone: [] as number[],
  embCpuStage: [] as number[],
  selfCpuAlone: [] as number[],
  selfCpuStage: [] as number[],
};
let warmLeg: (StageLeg & { aloneRate: number }) | undefined;
try {
  const w0 = performance.now();
  await alone(); // warm-up: model sessions, connections
  log(`warm-up: ${N} texts in ${((performance.now() - w0) / 1000).toFixed(1)} s`);
  for (let r = 1; r <= ROUNDS; r++) {
    // alternate the order (A B, B A, …) so a load drift on the shared machine hits both sides alike
    let a: Leg;
    let s: StageLeg;
    if (r % 2) {
      a = await alone();
      s = await throughStage(r);
    } else {
      s = await throughStage(r);
      a = await alone();
    }
    if (s.dlq) throw new Error(`${s.dlq} records dead-lettered`);
    const c = values.client ? await viaClient() : undefined;
    res.alone.push(a.rate);
    if (c !== undefined) res.client.push(c);
    res.stage.push(s.rate);
    res.ratio.push(s.rate / a.rate);
    res.satAlone.push(a.saturated);
    res.satStage.push(s.saturated);
    const perK = (sec: number) => ((sec * 1000) / N) * 1000; // CPU ms per 1000 headlines
    res.embCpuAlone.push(perK(a.cpu.embedder));
    res.embCpuStage.push(perK(s.cpu.embedder));
    res.selfCpuAlone.push(perK(a.cpu.self));
    res.selfCpuStage.push(perK(s.cpu.self));
    log(
      `  CPU ms per 1000 headlines: embedder ${perK(a.cpu.embedder).toFixed(0)} alone / ${perK(s.cpu.embedder).toFixed(0)} stage; ` +
        `this process ${perK(a.cpu.self).toFixed(0)} alone / ${perK(s.cpu.self).toFixed(0)} stage`,
    );
    log(
      `round ${r}: alone ${a.rate.toFixed(0)}/s (all ${CONC} out ${(a.saturated * 100).toFixed(0)} % of the time), ` +
        `stage ${s.rate.toFixed(0)}/s (${s.batches} batches, all out ${(s.saturated * 100).toFixed(0)} %)` +
        `${c === undefined ? '' : `, client ${c.toFixed(0)}/s`} → stage/alone ${(s.rate / a.rate).toFixed(3)}; load ${loadavg()[0]?.toFixed(1)}`,
    );
  }
  if (cache) {
    Object.assign(coldCacheMs, cacheMs);
    const w = await throughStage(ROUNDS + 1, true);
    warmLeg = { ...w, aloneRate: median(res.alone) };
    log(
      `warm replay g${ROUNDS + 1}: ${w.rate.toFixed(0)}/s, ${w.hits}/${N} from the cache, ${w.sent} texts sent to the embedder`,
    );
    const perK = (ms: number) => (ms / (N * ROUNDS)) * 1000;
    log(
      `cache time per 1000 headlines on the cold rounds: reads ${perK(coldCacheMs.get).toFixed(1)} ms, writes ${perK(coldCacheMs.put).toFixed(1)} ms`,
    );
  }
} finally {
  await cache?.close();
  await cachePool?.end();
  if (cacheSchema) {
    const c = new pg.Client({ connectionString: loadConfig().postgres.url });
    await c.connect();
    await c.query(`DROP SCHEMA "${cacheSchema}" CASCADE`);
    await c.end();
  }
  await admin.deleteTopics({ topics: declareFeedlog({ prefix }).topics.map((t) => t.name) }).catch(() => {});
  await admin.disconnect();
  await embedder.stop();
}

const out = {
  model: MODEL,
  records: N,
  batch: BATCH,
  concurrency: CONC,
  rounds: ROUNDS,
  texts: source,
  aloneHeadlinesPerSec: Math.round(median(res.alone)),
  clientHeadlinesPerSec: res.client.length ? Math.round(median(res.client)) : null,
  stageHeadlinesPerSec: Math.round(median(res.stage)),
  ratioStageToAlone: Number(median(res.ratio).toFixed(3)),
  ratiosPerRound: res.ratio.map((x) => Number(x.toFixed(3))),
  saturatedAlone: Number(median(res.satAlone).toFixed(3)),
  saturatedStage: Number(median(res.satStage).toFixed(3)),
  embedderCpuMsPer1000: { alone: Math.round(median(res.embCpuAlone)), stage: Math.round(median(res.embCpuStage)) },
  benchProcessCpuMsPer1000: {
    alone: Math.round(median(res.selfCpuAlone)),
    stage: Math.round(median(res.selfCpuStage)),
  },
  loadAverage1m: Number(loadavg()[0]?.toFixed(1)),
  cache: warmLeg
    ? {
        coldRoundsCacheMsPer1000: {
          reads: Number((coldCacheMs.get / ((N * ROUNDS) / 1000)).toFixed(1)),
          writes: Number((coldCacheMs.put / ((N * ROUNDS) / 1000)).toFixed(1)),
        },
        warmHeadlinesPerSec: Math.round(warmLeg.rate),
        warmRatioToAlone: Number((warmLeg.rate / warmLeg.aloneRate).toFixed(2)),
        warmHitRate: Number((warmLeg.hits / N).toFixed(4)),
        warmTextsSentToEmbedder: warmLeg.sent,
      }
    : null,
};
if (values.json) console.log(JSON.stringify(out));
else {
  console.log(
    `embed stage vs embedder alone — ${MODEL}, ${N} texts, batch ${BATCH} × ${CONC} in flight, median of ${ROUNDS}`,
  );
  console.log(`  embedder alone (openai client)      ${out.aloneHeadlinesPerSec} headlines/s`);
  if (out.clientHeadlinesPerSec !== null)
    console.log(`  @feedlog/embed client, no Kafka     ${out.clientHeadlinesPerSec} headlines/s`);
  console.log(`  embed stage through the broker      ${out.stageHeadlinesPerSec} headlines/s`);
  console.log(
    `  stage / alone                       ${out.ratioStageToAlone} (rounds: ${out.ratiosPerRound.join(', ')})`,
  );
  console.log(
    `  share of time all ${CONC} requests out: alone ${(out.saturatedAlone * 100).toFixed(0)} %, stage ${(out.saturatedStage * 100).toFixed(0)} %`,
  );
  console.log(
    `  CPU ms per 1000 headlines: embedder ${out.embedderCpuMsPer1000.alone} alone / ${out.embedderCpuMsPer1000.stage} stage; ` +
      `stage process (kafkajs, Avro, client) ${out.benchProcessCpuMsPer1000.stage} vs ${out.benchProcessCpuMsPer1000.alone} for the bare client`,
  );
  if (out.cache) {
    const k = out.cache;
    console.log(
      `  cache (PostgreSQL), cold rounds: reads ${k.coldRoundsCacheMsPer1000.reads} ms + writes ${k.coldRoundsCacheMsPer1000.writes} ms per 1000 headlines`,
    );
    console.log(
      `  warm replay (same model): ${k.warmHeadlinesPerSec} headlines/s = ${k.warmRatioToAlone} × the embedder alone; ` +
        `hit rate ${(k.warmHitRate * 100).toFixed(2)} %, ${k.warmTextsSentToEmbedder} texts sent to the embedder`,
    );
  }
}
process.exit(0);
