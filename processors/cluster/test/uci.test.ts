import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MinHashClusterer } from '../src/baseline.ts';
import { loadUciCsv } from '../src/dataset.ts';
import { evaluateStream } from '../src/evaluate.ts';
import { type ChangelogEntry, ClusterState } from '../src/state.ts';
import { compact } from './helpers.ts';

const UCI = fileURLToPath(new URL('../../../../shared/data/uci/stories-dev.csv', import.meta.url));
const present = existsSync(UCI);
if (!present) console.warn(`SKIP cluster UCI tests: ${UCI} not found (needs ../shared/data)`);

// Measured with the default options: B-cubed F1 0.836 (see the package README / bench/cluster.ts).
const BCUBED_F1_FLOOR = 0.8;

describe.skipIf(!present)('UCI stories-dev.csv replayed in timestamp order', () => {
  const rows = present ? loadUciCsv(UCI) : [];

  it('has the documented shape and is replayed in event-time order', () => {
    expect(rows.length).toBe(4159);
    expect(new Set(rows.map((r) => r.story)).size).toBe(52);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.publishedAt).toBeGreaterThanOrEqual(rows[i - 1]!.publishedAt);
  });

  it(`B-cubed F1 ≥ ${BCUBED_F1_FLOOR} with the default options, and beats the MinHash baseline`, () => {
    const r = evaluateStream('tfidf', () => new ClusterState(), rows);
    const b = evaluateStream('minhash', () => new MinHashClusterer(), rows);
    console.log(
      `cluster UCI: B3-F1 ${r.bcubed.f1.toFixed(3)} ARI ${r.ari.toFixed(3)} pw-F1 ${r.pairwise.f1.toFixed(3)}; minhash B3-F1 ${b.bcubed.f1.toFixed(3)}`,
    );
    expect(r.bcubed.f1).toBeGreaterThanOrEqual(BCUBED_F1_FLOOR);
    expect(r.ari).toBeGreaterThan(0.8);
    expect(r.bcubed.f1).toBeGreaterThan(b.bcubed.f1);
  });

  it('restore from the compacted changelog midway reproduces the uninterrupted story ids', () => {
    const opts = { windowMs: 6 * 3600_000 }; // short enough that stories age out during the replay
    const full = new ClusterState(opts);
    const expected = rows.map((r) => full.assign(r).storyId);
    const n = 2500;
    const a = new ClusterState(opts);
    const log: ChangelogEntry[] = [];
    // batches of 1 … 97 records, as the stage's transactions would cut them
    for (let i = 0, b = 1; i < n; i += b, b = (b * 7) % 97 || 1) {
      for (const r of rows.slice(i, Math.min(n, i + b))) a.assign(r);
      log.push(...a.takeChangelog());
    }
    const live = compact(log);
    const b = ClusterState.restore(live, opts);
    expect(b.stats()).toEqual(a.stats());
    expect(rows.slice(n).map((r) => b.assign(r).storyId)).toEqual(expected.slice(n));
    expect(log.some((e) => e.value === null)).toBe(true);
    console.log(
      `cluster UCI changelog: ${log.length} entries for ${n} records (${(log.length / n).toFixed(2)} per record), ${live.length} live after compaction`,
    );
  });
});
