import type { ReplayController } from '@feedlog/replay';
import Fastify from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// the replay store's one query the advancer makes, counted; `running` says whether a replay is active
const state = vi.hoisted(() => ({ running: false, polls: 0 }));
vi.mock('@feedlog/replay', async (importOriginal) => ({
  ...(await importOriginal<typeof import('@feedlog/replay')>()),
  activeReplay: async () => {
    state.polls++;
    return state.running ? { id: 'r1' } : undefined;
  },
}));
const { replayRoutes } = await import('../src/routes/replays.ts');

async function appWith(advance: () => Promise<void>) {
  const app = Fastify();
  app.decorate('db', { required: () => ({}) } as never);
  const controller = { advance, close: async () => {} } as unknown as ReplayController;
  await app.register(replayRoutes, { controller });
  await app.ready();
  return app;
}

describe('the API’s replay advancer (issue 14: an idle API stays idle)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    state.running = false;
    state.polls = 0;
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('looks for a replay every 30 s while none runs, and advances a running one every second', async () => {
    const advanced: number[] = [];
    const app = await appWith(async () => {
      advanced.push(Date.now());
    });
    await vi.advanceTimersByTimeAsync(61_000);
    expect(state.polls).toBe(3); // at 1 s, 31 s, 61 s (was 61: once a second)
    expect(advanced).toHaveLength(0);

    state.running = true;
    await vi.advanceTimersByTimeAsync(30_000); // found at the next idle check, then every second
    const before = advanced.length;
    expect(before).toBeGreaterThanOrEqual(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(advanced.length - before).toBe(10);

    state.running = false; // finished: back to the idle pace
    await vi.advanceTimersByTimeAsync(1_000);
    const polls = state.polls;
    await vi.advanceTimersByTimeAsync(29_000);
    expect(state.polls).toBe(polls);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(state.polls).toBe(polls + 1);
    await app.close();
  });

  it('retries a failed advance at the running pace, and stops polling on close', async () => {
    state.running = true;
    let calls = 0;
    const app = await appWith(async () => {
      calls++;
      throw new Error('PostgreSQL went away');
    });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls).toBe(5);
    await app.close();
    const polls = state.polls;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(state.polls).toBe(polls);
  });
});
