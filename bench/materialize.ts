// Materializer throughput into PostgreSQL (Kafka records/s), same log, same run:
//   1. the materializer (@feedlog/materialize): consume → decode (Avro via the registry) → fold →
//      one transaction per fetched batch: compare-and-set offsets + guarded upserts of items,
//      item_stages, jobs, failures → commit offsets to the group. Timed from its first applied
//      batch to the last (group join excluded; reported apart).
//   2. baseline: the same records, decoded beforehand (not timed), written with plain batched
//      INSERT … ON CONFLICT DO UPDATE (multi-row VALUES, last record wins, no generation guard,
//      no offsets, no Kafka) into items + item_stages, 500 records per transaction, 1 connection.
// Ratio = 1 / 2. Every variant writes into a fresh PostgreSQL schema.
//   npx tsx bench/materialize.ts [--items 4000] [--rounds 2] [--concurrency 3] [--batch 500] [--json]
import { performance } from 'node:perf_hooks';
import { createKafka, loadConfig } from '@feedlog/common';
import { type RecordName, serdeFor } from '@feedlog/schemas';
import pg from 'pg';
import { migrate } from '../migrations/src/index.ts';
import { pipelineFixture } from '../processors/materialize/src/fixtures.ts';
import { materializedTopics, startMaterializer } from '../processors/materialize/src/materializer.ts';
import { foldBatch, type StageRecord } from '../processors/materialize/src/rows.ts';
import { readStoredOffsets } from '../processors/materialize/src/store.ts';
import { deleteTopics, isolatedTopics, produceFixture } from '../processors/materialize/test/helpers.ts';

const args = process.argv.slice(2);
const opt = (name: string, d: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) || d : d);
const ITEMS = opt('--items', 4_000);
const ROUNDS = opt('--rounds', 2);
const CONCURRENCY = opt('--concurrency', 3);
const BATCH = opt('--batch', 500);
const asJson = args.includes('--json');
const cfg = loadConfig();
process.env.SCHEMA_REGISTRY_URL ??= cfg.registry.url;
process.env.DATABASE_URL ??= cfg.postgres.url;
const kafka = createKafka(cfg, { clientId: 'bench-materialize' });
const log = (s: string) => process.stderr.write(`${s}\n`);

async function freshSchema(tag: string): Promise<{ pool: pg.Pool; drop: () => Promise<void> }> {
  const schema = `bench_mat_${tag}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: cfg.postgres.url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const pool = new pg.Pool({
    connectionString: cfg.postgres.url,
    max: CONCURRENCY + 2,
    options: `-c search_path=${schema}`,
  });
  await migrate(pool);
  return {
    pool,
    drop: async () => {
      await pool.end();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

async function runMaterializer(prefix: string, records: number, round: number) {
  const db = await freshSchema(`m${round}`);
  const groupId = `bench.materialize.${Date.now().toString(36)}`;
  let first = 0;
  let last = 0;
  let applied = 0;
  const t0 = performance.now();
  const m = await startMaterializer({
    pool: db.pool,
    kafka,
    prefix,
    groupId,
    concurrency: CONCURRENCY,
    refresh: false,
    onEvent: (e) => {
      if (e.event !== 'batch') return;
      if (!first) first = performance.now() - e.ms;
      last = performance.now();
      applied += e.records;
    },
  });
  while (applied < records) await new Promise((r) => setTimeout(r, 20));
  const wall = performance.now() - t0;
  await m.stop();
  const stored = (await readStoredOffsets(db.pool, groupId)).reduce((a, s) => a + Number(s.next), 0);
  await db.drop();
  if (stored !== records) throw new Error(`materializer stored ${stored} offsets for ${records} records`);
  return { recordsPerSec: records / ((last - first) / 1000), joinMs: first - t0, wallMs: wall };
}

const cols = [
  'item_id',
  'job_id',
  'job_ingested_at',
  'source',
  'guid',
  'url',
  'title',
  'summary',
  'published_at',
  'ingested_at',
  'category',
  'confidence',
  'classify_model',
  'classify_model_version',
  'classify_generation',
  'classified_at',
  'story_id',
  'story_similarity',
  'story_is_new',
  'cluster_model',
  'cluster_model_version',
  'cluster_generation',
  'clustered_at',
  'embed_model',
  'embed_model_version',
  'embed_dimensions',
  'embed_generation',
  'embedded_at',
  'index_collection',
  'index_model',
  'index_model_version',
  'index_generation',
  'indexed_at',
];
const iso = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString());

/** Plain batched INSERT … ON CONFLICT: what a hand-written loader without the guarantees does. */
async function runBaseline(decoded: StageRecord[], round: number) {
  const db = await freshSchema(`b${round}`);
  const client = await db.pool.connect();
  const set = cols
    .slice(1)
    .map((c) => `${c} = coalesce(excluded.${c}, items.${c})`)
    .join(', ');
  const t0 = performance.now();
  for (let i = 0; i < decoded.length; i += BATCH) {
    // the same fold the materializer uses for in-batch duplicates (a statement may not touch a row twice)
    const { items, steps } = foldBatch(decoded.slice(i, i + BATCH));
    const rows = items.map((r) => [
      r.itemId,
      r.job?.id ?? null,
      iso(r.job?.ingestedAt),
      r.headline.source,
      r.headline.guid,
      r.headline.url,
      r.headline.title,
      r.headline.summary,
      iso(r.headline.published_at),
      iso(r.headline.ingested_at),
      r.classify?.category ?? null,
      r.classify?.confidence ?? null,
      r.classify?.model ?? null,
      r.classify?.version ?? null,
      r.classify?.generation ?? null,
      iso(r.classify?.at),
      r.cluster?.storyId ?? null,
      r.cluster?.similarity ?? null,
      r.cluster?.isNew ?? null,
      r.cluster?.model ?? null,
      r.cluster?.version ?? null,
      r.cluster?.generation ?? null,
      iso(r.cluster?.at),
      r.embed?.model ?? null,
      r.embed?.version ?? null,
      r.embed?.dimensions ?? null,
      r.embed?.generation ?? null,
      iso(r.embed?.at),
      r.index?.collection ?? null,
      r.index?.model ?? null,
      r.index?.version ?? null,
      r.index?.generation ?? null,
      iso(r.index?.at),
    ]);
    const values = rows.map((_, r) => `(${cols.map((__, c) => `$${r * cols.length + c + 1}`).join(', ')})`).join(', ');
    const stepVals = steps
      .map((_, r) => `(${[1, 2, 3, 4, 5, 6, 7].map((c) => `$${r * 7 + c}`).join(', ')})`)
      .join(', ');
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO items (${cols.join(', ')}) VALUES ${values} ON CONFLICT (item_id) DO UPDATE SET ${set}`,
      rows.flat(),
    );
    await client.query(
      `INSERT INTO item_stages (job_id, stage, item_id, generation, records, first_at, last_at) VALUES ${stepVals}
       ON CONFLICT (job_id, stage, item_id) DO UPDATE SET records = item_stages.records + excluded.records, last_at = excluded.last_at`,
      steps.flatMap((s) => [s.jobId, s.stage, s.itemId, s.generation, s.records, iso(s.firstAt), iso(s.lastAt)]),
    );
    await client.query('COMMIT');
  }
  const ms = performance.now() - t0;
  client.release();
  await db.drop();
  return { recordsPerSec: decoded.length / (ms / 1000) };
}

const prefix = await isolatedTopics(kafka, 'benchmat');
try {
  const fixture = pipelineFixture({ items: ITEMS, jobs: 4, prefix, regenEvery: 9 });
  log(`producing ${fixture.length} records (${ITEMS} items through 5 stage topics)…`);
  await produceFixture(kafka, prefix, fixture);
  // decode once through the same Serde the materializer uses, for the baseline (untimed)
  const kind = new Map(materializedTopics(prefix).map((t) => [t.topic, t.kind]));
  const decoded: StageRecord[] = [];
  const serdes = new Map<string, ReturnType<typeof serdeFor<RecordName>>>();
  const t0 = performance.now();
  for (const r of fixture) {
    if (r.record === null || r.record === 'DeadLetter') continue;
    let s = serdes.get(r.topic);
    if (!s) {
      s = serdeFor(r.record, r.topic, { prefix }) as ReturnType<typeof serdeFor<RecordName>>;
      serdes.set(r.topic, s);
    }
    // biome-ignore lint/suspicious/noExplicitAny: the fixture's union carries the matching value
    const bytes = await s.encode(r.value as any);
    decoded.push({ stage: kind.get(r.topic), value: await s.decode(bytes) } as StageRecord);
  }
  const codecMs = performance.now() - t0;
  const results: { round: number; materializer: number; baseline: number; ratio: number; joinMs: number }[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const b = await runBaseline(decoded, round);
    const m = await runMaterializer(prefix, fixture.length, round);
    results.push({
      round,
      materializer: m.recordsPerSec,
      baseline: b.recordsPerSec,
      ratio: m.recordsPerSec / b.recordsPerSec,
      joinMs: m.joinMs,
    });
    log(
      `round ${round}: materializer ${m.recordsPerSec.toFixed(0)} rec/s (group join ${(m.joinMs / 1000).toFixed(1)} s not counted), ` +
        `plain INSERT … ON CONFLICT ${b.recordsPerSec.toFixed(0)} rec/s, ratio ${(m.recordsPerSec / b.recordsPerSec).toFixed(2)}`,
    );
  }
  const best = (k: 'materializer' | 'baseline') => Math.max(...results.map((r) => r[k]));
  const summary = {
    records: fixture.length,
    items: ITEMS,
    concurrency: CONCURRENCY,
    baselineBatch: BATCH,
    encodeDecodeRecPerSec: Math.round(decoded.length / (codecMs / 1000)),
    bestMaterializerRecPerSec: Math.round(best('materializer')),
    bestBaselineRecPerSec: Math.round(best('baseline')),
    ratioOfBest: Number((best('materializer') / best('baseline')).toFixed(2)),
    medianRoundRatio: Number(
      [...results.map((r) => r.ratio)].sort((a, b) => a - b)[Math.floor(results.length / 2)]!.toFixed(2),
    ),
    rounds: results.map((r) => ({
      ...r,
      materializer: Math.round(r.materializer),
      baseline: Math.round(r.baseline),
      ratio: Number(r.ratio.toFixed(2)),
      joinMs: Math.round(r.joinMs),
    })),
  };
  if (asJson) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else {
    process.stdout.write(
      `materializer: ${summary.bestMaterializerRecPerSec} records/s into PostgreSQL (best of ${ROUNDS}, concurrency ${CONCURRENCY})\n` +
        `plain batched INSERT … ON CONFLICT (${BATCH}/txn, pre-decoded): ${summary.bestBaselineRecPerSec} records/s\n` +
        `ratio materializer / plain: ${summary.ratioOfBest} (best vs best), ${summary.medianRoundRatio} (median of per-round ratios)\n` +
        `(Avro encode+decode alone, for scale: ${summary.encodeDecodeRecPerSec} records/s)\n`,
    );
  }
} finally {
  await deleteTopics(kafka, prefix);
}
