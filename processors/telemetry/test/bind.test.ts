import type { AddressInfo } from 'node:net';
import { type StageHealth, serveHealth } from '@feedlog/runtime';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { serveMetrics } from '../src/index.ts';

// Stage health and metrics ports listened on 0.0.0.0 while every other feedlog server is loopback.
describe('stage ports bind loopback by default', () => {
  it('serveMetrics', async () => {
    const m = await serveMetrics(new Registry(), 0);
    try {
      expect((m.server.address() as AddressInfo).address).toBe('127.0.0.1');
    } finally {
      await m.close();
    }
  });
  it('serveHealth', async () => {
    const health = (): StageHealth =>
      ({
        stage: 's',
        groupId: 'g',
        status: 'running',
        live: true,
        ready: true,
        partitions: [],
      }) as unknown as StageHealth;
    const server = await serveHealth(health, 0);
    try {
      expect((server.address() as AddressInfo).address).toBe('127.0.0.1');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
