import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { applyKafkajsIdleFix, PATCHED_KAFKAJS_VERSION } from './kafkajs-idle.ts';

const require = createRequire(import.meta.url);

interface Queue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  requestTimeoutIntervalId: NodeJS.Timeout | undefined;
  checkPendingRequests(): void;
  scheduleRequestTimeoutCheck(): void;
  push(r: {
    entry: { correlationId: number; resolve(): void; reject(): void };
    expectResponse: boolean;
    sendRequest(): void;
  }): void;
  destroy(): void;
}
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as new (o: object) => Queue;
const logger = { debug() {}, info() {}, warn() {}, error() {} };
const queue = () =>
  new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 30_000,
    enforceRequestTimeout: true,
    clientId: 't',
    broker: 'b',
    logger,
  });

describe('kafkajs idle fix', () => {
  it('matches the installed kafkajs (an upgrade must look at the patch again)', () => {
    expect((require('kafkajs/package.json') as { version: string }).version).toBe(PATCHED_KAFKAJS_VERSION);
    expect(applyKafkajsIdleFix({})).toBe(true);
  });

  it('arms no timer while nothing is pending (released 2.2.4 re-arms a 1 ms one forever)', () => {
    applyKafkajsIdleFix({});
    const q = queue();
    q.checkPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
    q.destroy();
  });

  it('still sends a request held back by throttling once the throttle ends', async () => {
    applyKafkajsIdleFix({});
    const q = queue();
    q.throttledUntil = Date.now() + 30;
    let sent = 0;
    q.push({
      entry: { correlationId: 1, resolve() {}, reject() {} },
      expectResponse: false,
      sendRequest: () => sent++,
    });
    expect(sent).toBe(0);
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    await new Promise((r) => setTimeout(r, 120));
    expect(sent).toBe(1);
    expect(q.throttleCheckTimeoutId).toBeNull();
    q.destroy();
  });

  it('checks request timeouts once a second, not every 100 ms', () => {
    applyKafkajsIdleFix({});
    const q = queue();
    q.scheduleRequestTimeoutCheck();
    const t = q.requestTimeoutIntervalId as unknown as { _idleTimeout: number };
    expect(t._idleTimeout).toBe(1_000);
    q.destroy();
  });
});
