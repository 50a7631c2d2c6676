import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { Poller } from '../src/poller.ts';
import type { RawSink } from '../src/producer.ts';
import type { FeedStore } from '../src/store.ts';

describe('Poller.drain with nothing due', () => {
  it('asks PostgreSQL once, not once per worker', async () => {
    let claims = 0;
    const store = {
      claimDue: async () => {
        claims++;
        return [];
      },
    } as unknown as FeedStore;
    const poller = new Poller({ store, pool: {} as pg.Pool, sink: {} as RawSink, concurrency: 8 });
    expect(await poller.drain()).toEqual([]);
    // before: each of the 8 workers claimed at once, 8 queries a second on an idle poller
    expect(claims).toBe(1);
  });
});
