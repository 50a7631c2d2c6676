// feedlog under the same load and the same crash: the local stack with its embed stage on the
// same stub embedder, the items pushed through POST /v1/items at the same rate, the same stage
// SIGKILLed at the same point and started again; arrivals read from PostgreSQL.
import type { FeedlogConfig } from '@feedlog/common';
import type pg from 'pg';
import { pushLoad } from '../e2e/loadgen.ts';
import { crashRestartStage, type LocalStack } from '../e2e/local-stack.ts';
import { countSearchable, duplicateRows, latency } from '../e2e/measure.ts';
import type { ComparisonLoad } from './pipeline.ts';
import type { SystemResult } from './result.ts';

export async function runFeedlogSide(
  cfg: FeedlogConfig,
  pool: pg.Pool,
  stack: LocalStack,
  o: ComparisonLoad,
): Promise<SystemResult> {
  const wall0 = Date.now();
  const t0 = performance.now();
  const restartInfo = { stage: o.restartStage, atSecond: 0, downSeconds: 0 };
  const restartAtMs = ((o.records * o.restartAt) / o.rate) * 1000;
  const restart = (async () => {
    await new Promise((r) => setTimeout(r, restartAtMs));
    restartInfo.atSecond = Number(((Date.now() - wall0) / 1000).toFixed(1));
    const down = Date.now();
    await crashRestartStage(
      cfg,
      o.restartStage,
      o.downMs,
      { EMBEDDING_BASE_URL: stack.embedder.baseUrl, EMBED_CACHE: 'off' },
      () => {},
    );
    restartInfo.downSeconds = Number(((Date.now() - down) / 1000).toFixed(1));
    o.log(
      `feedlog: ${o.restartStage} killed at ${restartInfo.atSecond} s, ready again after ${restartInfo.downSeconds} s`,
    );
  })();
  const push = await pushLoad(
    {
      baseUrl: stack.baseUrl,
      apiKey: stack.apiKey,
      records: o.records,
      rate: o.rate,
      batch: 50,
      concurrency: 2,
      run: `redis-cmp-feedlog-${Date.now().toString(36)}`,
      set: o.set,
    },
    t0,
  );
  await restart;
  let n = 0;
  let still = 0;
  while (n < push.accepted && still < 120) {
    await new Promise((r) => setTimeout(r, 1_000));
    const m = await countSearchable(pool, push.jobIds);
    still = m === n ? still + 1 : 0;
    n = m;
  }
  const r = await pool.query<{ s: number | null }>(
    'SELECT extract(epoch FROM max(indexed_at))::float8 * 1000 - $2::float8 AS s FROM items WHERE job_id = ANY($1)',
    [push.jobIds, wall0],
  );
  const seconds = Number(((r.rows[0]?.s ?? 0) / 1000).toFixed(2));
  return {
    system: 'feedlog (Kafka, exactly-once stages)',
    pushed: push.accepted,
    arrived: n,
    lost: push.accepted - n,
    duplicates: await duplicateRows(pool, push.jobIds),
    seconds,
    itemsPerSec: Number((seconds > 0 ? n / seconds : 0).toFixed(1)),
    latencySeconds: await latency(pool, push.jobIds),
    restart: restartInfo,
    notes: 'offsets committed in the stage transaction; the restarted stage resumes from the last commit',
  };
}
