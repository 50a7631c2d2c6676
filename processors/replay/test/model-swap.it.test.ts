// Issue 9, "model swap under load", on the embedded index (the scenario: model-swap-scenario.ts).
import { EmbeddedIndex } from '@feedlog/index';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { modelSwapScenario } from './model-swap-scenario.ts';
import { headlines, type ReplayStack, startReplayStack } from './replay-helpers.ts';

describe('replay embed with another model while search serves (issue 9)', () => {
  let s: ReplayStack;
  const items = headlines(300);

  beforeAll(async () => {
    s = await startReplayStack('replayswap');
  });
  afterAll(async () => {
    await s?.replays.abort().catch(() => undefined);
    await s?.close();
  });

  it('zero failed or empty searches; model A before the flip, B after; the new collection equals model B from scratch', async () => {
    const index = new EmbeddedIndex({ dir: s.indexDir, readOnly: true });
    try {
      await modelSwapScenario(s, items, async (gen) => {
        const coll = index.collection(gen);
        coll.refresh();
        return coll.entries();
      });
    } finally {
      await index.close();
    }
  }, 240_000);
});
