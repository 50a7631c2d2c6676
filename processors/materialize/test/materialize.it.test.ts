import { refreshViews } from '@feedlog/migrations';
import { itemId } from '@feedlog/schemas';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FixtureRecord, pipelineFixture } from '../src/fixtures.ts';
import { type MaterializerEvent, type RunningMaterializer, startMaterializer } from '../src/materializer.ts';
import { StaleOffsetError, writeBatch } from '../src/store.ts';
import {
  canonicalDump,
  deleteTopics,
  isolatedTopics,
  migratedSchema,
  produceFixture,
  type TestDb,
  testKafka,
  uniqueName,
  waitCaughtUp,
  waitFor,
} from './helpers.ts';

const ITEMS = 300;

describe('materializer', () => {
  let kafka: Kafka;
  let prefix: string;
  let db: TestDb;
  let fixture: FixtureRecord[];
  const groupId = uniqueName('materialize');
  let running: RunningMaterializer | undefined;
  const events: MaterializerEvent[] = [];

  beforeAll(async () => {
    kafka = testKafka('materialize-test');
    prefix = await isolatedTopics(kafka, 'mat');
    db = await migratedSchema('mat');
    fixture = pipelineFixture({ items: ITEMS, jobs: 3, prefix, regenEvery: 10, failEvery: 25, garbage: 4 });
    await produceFixture(kafka, prefix, fixture);
  });
  afterAll(async () => {
    await running?.stop();
    await db?.drop();
    await deleteTopics(kafka, prefix);
  });

  const start = () =>
    startMaterializer({
      pool: db.pool,
      kafka,
      prefix,
      groupId,
      refresh: false,
      sessionTimeout: 6_000,
      onEvent: (e) => events.push(e),
    });

  it('upserts every stage record; job_progress shows the per-stage counts of the log', async () => {
    running = await start();
    await waitCaughtUp(kafka, db.pool, prefix, groupId);
    await refreshViews(db.pool);

    // What the log says, computed from the fixture itself.
    const stageOf: Record<string, string> = {
      RawHeadline: 'ingested',
      ClassifiedHeadline: 'classified',
      ClusteredHeadline: 'clustered',
      EmbeddedHeadline: 'embedded',
      IndexedHeadline: 'indexed',
    };
    const expected = new Map<string, Record<string, Set<string>>>();
    let stageRecords = 0;
    for (const r of fixture) {
      if (r.record === null || r.record === 'DeadLetter') continue;
      stageRecords++;
      const job = r.value.job_id;
      const e = expected.get(job) ?? {};
      const key = stageOf[r.record]!;
      const set = e[key] ?? new Set<string>();
      set.add(r.value.item_id);
      e[key] = set;
      expected.set(job, e);
    }
    const rows = (await db.pool.query('SELECT * FROM job_progress ORDER BY job_id')).rows;
    expect(rows.map((r) => r.job_id).sort()).toEqual([...expected.keys()].sort());
    for (const row of rows) {
      const e = expected.get(row.job_id)!;
      for (const stage of ['ingested', 'classified', 'clustered', 'embedded', 'indexed']) {
        expect({ job: row.job_id, stage, n: Number(row[stage]) }).toEqual({
          job: row.job_id,
          stage,
          n: e[stage]?.size ?? 0,
        });
      }
    }
    // cluster failures reach job_progress by stage; those items count as done
    const dead = fixture.filter((r) => r.record === 'DeadLetter');
    expect(dead.length).toBeGreaterThan(0);
    const job0 = rows.find((r) => r.job_id === 'job-0')!;
    const job0Dead = dead.filter((r) => (r.value as { job_id: string }).job_id === 'job-0').length;
    expect(job0.failures_by_stage).toEqual(job0Dead ? { cluster: job0Dead } : {});
    expect(Number(job0.done_items)).toBe(expected.get('job-0')!.ingested!.size);
    expect(Number(job0.done_ratio)).toBe(1);
    expect(job0.finished_at).not.toBeNull();
    expect(Number(job0.stuck)).toBe(0);

    const total = await db.pool.query('SELECT sum(records)::int AS n FROM item_stages');
    expect(total.rows[0].n).toBe(stageRecords);
    const items = await db.pool.query('SELECT count(*)::int AS n FROM items');
    expect(items.rows[0].n).toBe(ITEMS);
  });

  it('keeps the newest generation even when the older one arrives later, and later stages do not regress earlier columns', async () => {
    const regen = fixture.filter(
      (r) => r.record === 'ClassifiedHeadline' && r.value.classification.run.generation === 2,
    ) as Extract<FixtureRecord, { record: 'ClassifiedHeadline' }>[];
    expect(regen.length).toBe(ITEMS / 10);
    const ids = regen.map((r) => r.value.item_id);
    const got = await db.pool.query(
      'SELECT item_id, category, classify_generation, job_id, story_id, indexed_at FROM items WHERE item_id = ANY($1) ORDER BY item_id',
      [ids],
    );
    const want = new Map(regen.map((r) => [r.value.item_id, r.value.classification.category]));
    for (const row of got.rows) {
      expect(row.classify_generation).toBe(2);
      expect(row.category).toBe(want.get(row.item_id));
      expect(row.job_id).toMatch(/^job-\d$/); // the ingest job, not the replay's
    }
    // an item that went all the way keeps its headline, category, story and index columns together
    const first = fixture.find((r) => r.record === 'IndexedHeadline') as Extract<
      FixtureRecord,
      { record: 'IndexedHeadline' }
    >;
    const one = (await db.pool.query('SELECT * FROM items WHERE item_id = $1', [first.value.item_id])).rows[0];
    expect(one.title).toBe(first.value.headline.title);
    expect(one.story_id).toBe(first.value.story.story_id);
    expect(one.embed_dimensions).toBe(16);
    expect(one.index_collection).toBe('headlines_g1');
    expect(new Date(one.indexed_at).getTime()).toBe(first.value.index.indexed_at);
  });

  it('sends undecodable records to stage_failures (stage materialize) and materialize.dlq, and keeps going', async () => {
    const own = await db.pool.query(
      "SELECT item_id, error->>'class' AS class FROM stage_failures WHERE stage = 'materialize' ORDER BY item_id",
    );
    expect(own.rows).toEqual([
      { item_id: 'garbage-0', class: 'WrongMagicByteError' },
      { item_id: 'garbage-1', class: 'UnknownSchemaIdError' },
      { item_id: 'garbage-2', class: 'WrongMagicByteError' },
      { item_id: 'garbage-3', class: 'UnknownSchemaIdError' },
    ]);
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(`${prefix}materialize.dlq`);
    await admin.disconnect();
    expect(offsets.reduce((a, o) => a + Number(o.high), 0)).toBeGreaterThanOrEqual(4);
    // the materializer's dead letters carry the feedlog-error-* headers the stages write
    const consumer = kafka.consumer({ groupId: uniqueName('mat-dlq-read') });
    const headers: Record<string, string>[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: `${prefix}materialize.dlq`, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        headers.push(Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])));
      },
    });
    await waitFor('materialize.dlq read', () => headers.length >= 4, 30_000);
    await consumer.disconnect();
    for (const h of headers) {
      expect(h['feedlog-error-class']).toMatch(/WrongMagicByteError|UnknownSchemaIdError/);
      expect(h['feedlog-stage']).toBe('materialize');
      expect(h['feedlog-source']).toMatch(/\/\d+\/\d+$/);
      expect(h['feedlog-error-message']).toBeTruthy();
    }
  });

  it('story_summary: size, sources, representative headline, majority category', async () => {
    await refreshViews(db.pool);
    const s = (await db.pool.query("SELECT * FROM story_summary WHERE story_id = 'story-0'")).rows[0];
    const members = fixture.filter(
      (r) => r.record === 'ClusteredHeadline' && r.value.story.story_id === 'story-0',
    ) as Extract<FixtureRecord, { record: 'ClusteredHeadline' }>[];
    expect(Number(s.size)).toBe(members.length);
    expect(s.sources).toEqual([...new Set(members.map((m) => m.value.headline.source))].sort());
    const earliest = [...members].sort(
      (a, b) =>
        (a.value.headline.published_at ?? a.value.headline.ingested_at) -
          (b.value.headline.published_at ?? b.value.headline.ingested_at) ||
        a.value.item_id.localeCompare(b.value.item_id),
    )[0]!;
    expect(s.representative_item_id).toBe(earliest.value.item_id);
    expect(s.representative_title).toBe(earliest.value.headline.title);
  });

  it('a job the API created keeps its fields; items stuck before index show up as stuck, the job is not finished', async () => {
    await db.pool.query(
      "INSERT INTO jobs (id, kind, caller, expected_count, status) VALUES ('job-api', 'ingest', 'sdk-test', 5, 'accepted')",
    );
    // three items that only reached raw-headlines, ingested long ago (fixture clock), and one fully indexed
    const extra = pipelineFixture({ items: 4, jobs: 1, prefix }).map((r) =>
      r.record === null ? r : ({ ...r, value: { ...r.value, job_id: 'job-api' } } as FixtureRecord),
    );
    const keep = new Set(
      extra
        .filter((r) => r.record === 'RawHeadline')
        .map((r) => r.key)
        .slice(0, 3),
    );
    const stuckOnly = extra.filter((r) => r.record === 'RawHeadline' || !keep.has(r.key));
    // distinct item ids from the 300 above: change the guid
    const renamed = stuckOnly.map((r) => {
      if (r.record === null || r.record === 'DeadLetter') return r;
      const headline = { ...r.value.headline, guid: `api-${r.value.headline.guid}` };
      const item_id = itemId(headline);
      return { ...r, key: item_id, value: { ...r.value, headline, item_id } } as FixtureRecord;
    });
    await produceFixture(kafka, prefix, renamed);
    await waitCaughtUp(kafka, db.pool, prefix, groupId);
    await refreshViews(db.pool);
    const jp = (await db.pool.query("SELECT * FROM job_progress WHERE job_id = 'job-api'")).rows[0];
    expect(jp).toMatchObject({ kind: 'ingest', caller: 'sdk-test', status: 'accepted', expected_count: 5 });
    expect(Number(jp.ingested)).toBe(4);
    expect(Number(jp.indexed)).toBe(1);
    expect(Number(jp.stuck)).toBe(3);
    expect(jp.stuck_items).toHaveLength(3);
    expect(Number(jp.done_ratio)).toBe(0.2); // 1 done of the 5 expected
    expect(jp.finished_at).toBeNull();
    const auto = await db.pool.query("SELECT auto_created FROM jobs WHERE id = 'job-api'");
    expect(auto.rows[0].auto_created).toBe(false);
  });

  it('redelivery does not double count: the group rewound to earliest, the materializer seeks to the stored offsets', async () => {
    const before = await canonicalDump(db.pool, groupId);
    await running!.stop();
    running = undefined;
    const admin = kafka.admin();
    await admin.connect();
    // offsets can only be reset once the coordinator has seen the member leave
    await waitFor('the group to be empty', async () => {
      const { groups } = await admin.describeGroups([groupId]);
      return groups[0]?.state === 'Empty';
    });
    for (const topic of new Set(fixture.map((r) => r.topic)))
      await admin.resetOffsets({ groupId, topic, earliest: true });
    // (kafkajs resets by joining the group with a consumer per topic: ~5 s each)
    await admin.disconnect();
    events.length = 0;
    running = await start();
    // every partition with data is repositioned from the group's offset 0 to the stored one
    await new Promise((r) => setTimeout(r, 5_000));
    await waitCaughtUp(kafka, db.pool, prefix, groupId);
    expect(events.filter((e) => e.event === 'seek').length).toBeGreaterThan(0);
    expect(running.stats.applied).toBe(0);
    expect(await canonicalDump(db.pool, groupId)).toEqual(before);
  });

  it('a batch whose offsets were already stored is refused inside the transaction (compare-and-set)', async () => {
    const client = await db.pool.connect();
    try {
      const raw = `${prefix}raw-headlines`;
      const stored = (
        await client.query(
          'SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2 LIMIT 1',
          [groupId, raw],
        )
      ).rows[0];
      const item = {
        itemId: itemId({ source: 'x', guid: 'y', url: 'https://x' }),
        headline: {
          source: 'x',
          guid: 'y',
          url: 'https://x',
          title: 't',
          summary: null,
          published_at: null,
          ingested_at: 1,
        },
        job: { id: 'stale-job', ingestedAt: 1 },
        classify: null,
        cluster: null,
        embed: null,
        index: null,
      };
      const err = await writeBatch(client, {
        key: { groupId, topic: raw, partition: stored.partition },
        expected: BigInt(stored.next_offset) - 1n, // what a zombie that missed the last commit believes
        next: BigInt(stored.next_offset) + 1n,
        items: [item],
        steps: [],
        jobs: ['stale-job'],
        failures: [],
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StaleOffsetError);
      expect(err).toMatchObject({ code: 'FEEDLOG_STALE_OFFSET', retriable: true });
      const leaked = await client.query("SELECT count(*)::int AS n FROM jobs WHERE id = 'stale-job'");
      expect(leaked.rows[0].n).toBe(0);
    } finally {
      client.release();
    }
  });
});
