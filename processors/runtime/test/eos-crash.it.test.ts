import { setTimeout as sleep } from 'node:timers/promises';
import { testKafka, waitFor } from '@feedlog/test';
import { afterAll, describe, expect, it } from 'vitest';
import {
  countByKey,
  createTopics,
  deleteTopics,
  produceRange,
  readCommitted,
  spawnStage,
  type Topics,
} from './helpers.ts';

const TOTAL = 50_000;
const KILLS = 20;

describe('exactly-once under SIGKILL', () => {
  const kafka = testKafka('runtime-crash');
  let topics: Topics | undefined;
  afterAll(async () => {
    if (topics) await deleteTopics(kafka, topics);
  });

  it(`a stage SIGKILLed ${KILLS} times at random points writes each of ${TOTAL} outputs exactly once`, async () => {
    const t = await createTopics(kafka, 'crash', 4);
    topics = t;
    const chunk = TOTAL / (KILLS + 1);
    const env = { STAGE_MAX_RECORDS: '300', STAGE_LINGER_MS: '10', STAGE_CHANGELOG: t.changelog };
    let produced = 0;
    const kills: { afterMs: number; batchesBefore: number; phase: string }[] = [];
    let totalBatches = 0;

    for (let run = 0; run <= KILLS; run++) {
      const proc = spawnStage(t, env);
      // input keeps arriving while the stage runs, so every run has work to be killed in
      const to = run === KILLS ? TOTAL : Math.round(chunk * (run + 1));
      const producing = produceRange(kafka, t.input, produced, to).then(() => {
        produced = to;
      });
      if (run === KILLS) {
        await producing;
        break; // the last run is left to finish
      }
      let phase: string;
      const start = Date.now();
      if (run % 5 === 4) {
        // now and then during start-up / group join / first fencing
        phase = 'startup';
        await sleep(200 + Math.random() * 2_500);
      } else {
        phase = 'processing';
        await proc.waitEvent((e) => e.event === 'batch', 60_000);
        await sleep(Math.random() * 1_500);
      }
      const batchesBefore = proc.events.filter((e) => e.event === 'batch').length;
      proc.child.kill('SIGKILL');
      await proc.exited;
      await producing;
      totalBatches += batchesBefore;
      kills.push({ afterMs: Date.now() - start, batchesBefore, phase });
    }

    // the surviving run: wait until it has committed everything, then stop it gracefully
    const last = spawnStage(t, env);
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(t.input);
    const groupId = `feedlog.${t.stage}.g1`;
    await waitFor(
      'the stage to commit the whole input',
      async () => {
        const [c] = await admin.fetchOffsets({ groupId, topics: [t.input] });
        return ends.every((e) => c?.partitions.find((p) => p.partition === e.partition)?.offset === e.offset);
      },
      120_000,
      250,
    );
    await admin.disconnect();
    last.child.kill('SIGTERM');
    expect((await last.exited).code).toBe(0);

    const out = await readCommitted(t.output, TOTAL, { quietMs: 2_000, timeoutMs: 60_000 });
    const counts = countByKey(out);
    const dupes = [...counts].filter(([, n]) => n > 1);
    const summary = {
      kills: kills.length,
      duringProcessing: kills.filter((k) => k.batchesBefore > 0).length,
      batchesCommittedBeforeKills: totalBatches,
      outputs: out.length,
      distinctKeys: counts.size,
      duplicates: dupes.length,
    };
    console.log(JSON.stringify(summary));
    expect(kills.length).toBeGreaterThanOrEqual(KILLS);
    expect(summary.duringProcessing).toBeGreaterThanOrEqual(KILLS / 2);
    expect(dupes.slice(0, 5)).toEqual([]);
    expect(counts.size).toBe(TOTAL);
    expect(out.length).toBe(TOTAL);
    for (const m of out.slice(0, 2_000)) {
      expect(m.value?.toString()).toBe(`V${m.key?.toString().slice(1)}`);
    }
    // the side topic written with ctx.send in the same transactions: exactly once as well
    const changelog = await readCommitted(t.changelog, TOTAL, { quietMs: 1_000, timeoutMs: 60_000 });
    expect(changelog.length).toBe(TOTAL);
    expect(countByKey(changelog).size).toBe(TOTAL);
    const dlq = await readCommitted(t.dlq, 0, { quietMs: 500, timeoutMs: 5_000 });
    expect(dlq.length).toBe(0);
  }, 420_000);
});
