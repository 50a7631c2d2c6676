import { readChangelog } from '@feedlog/cluster/run-cluster';
import { changelogPrefix } from '@feedlog/cluster/stage';
import { topicNames } from '@feedlog/topics';
import type { ReplayControllerOptions } from './controller.ts';
import { ReplayUsageError, type StageName } from './types.ts';

/** `7d`, `12h`, `30m`, `45s` → milliseconds. */
export function parseAge(v: string): number {
  const m = /^(\d+)\s*(d|h|m|s)$/.exec(v.trim());
  if (!m) throw new ReplayUsageError(`--older-than ${v}: expected a number and a unit, e.g. 7d, 12h, 30m`);
  return Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 }[m[2] as 'd' | 'h' | 'm' | 's'];
}

export interface GcRow {
  stage: StageName;
  generation: number;
  status: string;
  finished_at: string | null;
  group: string | null;
  collection: string | null;
  changelog_keys: number | null;
  parked_rows: number;
  done: string;
}

/**
 * Delete what retired and aborted generations left behind once they finished more than
 * `olderThanMs` ago: their consumer groups, their vector collections (index), their cluster
 * changelog keys (`g<N>/…`, tombstoned so compaction drops them), their parked rows and their
 * `generations` rows. A serving generation is never touched. `dryRun` lists without deleting.
 */
export async function collectGarbage(
  o: Pick<ReplayControllerOptions, 'pool' | 'kafka' | 'index' | 'prefix'>,
  opts: { olderThanMs: number; dryRun: boolean },
): Promise<GcRow[]> {
  const prefix = o.prefix ?? '';
  const r = await o.pool.query<{
    stage: StageName;
    generation: number;
    status: string;
    finished_at: Date | null;
    consumer_group: string | null;
    collection: string | null;
    parked: number;
  }>(
    `SELECT g.stage, g.generation, g.status, g.finished_at, g.consumer_group, g.collection,
            (SELECT count(*)::int FROM item_generation_blocks b WHERE b.stage = g.stage AND b.generation = g.generation) AS parked
     FROM generations g
     WHERE g.status IN ('retired', 'aborted') AND NOT g.serving
       AND g.finished_at < now() - make_interval(secs => $1)
     ORDER BY g.stage, g.generation`,
    [opts.olderThanMs / 1000],
  );
  const out: GcRow[] = [];
  const admin = o.kafka.admin();
  await admin.connect();
  try {
    for (const g of r.rows) {
      const changelog = `${prefix}${topicNames.clusterChangelog}`;
      const keys = g.stage === 'cluster' ? await readChangelog(o.kafka, changelog, g.generation) : [];
      const live = [...new Set(keys.map((k) => k.key))];
      const row: GcRow = {
        stage: g.stage,
        generation: g.generation,
        status: g.status,
        finished_at: g.finished_at?.toISOString() ?? null,
        group: g.consumer_group,
        collection: g.stage === 'index' ? g.collection : null,
        changelog_keys: g.stage === 'cluster' ? live.length : null,
        parked_rows: g.parked,
        done: opts.dryRun ? 'would delete' : 'deleted',
      };
      out.push(row);
      if (opts.dryRun) continue;
      if (g.consumer_group) await admin.deleteGroups([g.consumer_group]).catch(() => undefined);
      if (g.stage === 'index') await o.index().dropGeneration(g.generation);
      if (live.length) {
        const producer = o.kafka.producer({ idempotent: true });
        await producer.connect();
        try {
          const p = changelogPrefix(g.generation);
          for (let i = 0; i < live.length; i += 1_000)
            await producer.send({
              topic: changelog,
              acks: -1,
              messages: live.slice(i, i + 1_000).map((k) => ({ key: p + k, value: null })),
            });
        } finally {
          await producer.disconnect();
        }
      }
      await o.pool.query('DELETE FROM item_generation_blocks WHERE stage = $1 AND generation = $2', [
        g.stage,
        g.generation,
      ]);
      await o.pool.query('DELETE FROM generations WHERE stage = $1 AND generation = $2 AND NOT serving', [
        g.stage,
        g.generation,
      ]);
    }
  } finally {
    await admin.disconnect();
  }
  return out;
}
