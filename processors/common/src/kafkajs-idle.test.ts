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
    entry: { correlationId: number; resolve(): void; reject(e: unknown): void };
    expectResponse: boolean;
    sendRequest(): void;
    requestTimeout?: number;
  }): void;
  fulfillRequest(r: { correlationId: number; payload: Buffer; size: number }): void;
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

  it('arms no request-timeout timer on an idle connection (released 2.2.4 polls every 100 ms)', () => {
    applyKafkajsIdleFix({});
    const q = queue();
    q.scheduleRequestTimeoutCheck();
    expect(q.requestTimeoutIntervalId).toBeUndefined();
    q.destroy();
  });

  it('times out a request in flight at its deadline, then disarms', async () => {
    applyKafkajsIdleFix({});
    const q = timedQueue(40);
    q.scheduleRequestTimeoutCheck();
    const rejected: unknown[] = [];
    const sentAt = Date.now();
    q.push(request(1, (e) => rejected.push(e)));
    expect(q.requestTimeoutIntervalId).toBeDefined();
    await new Promise((r) => setTimeout(r, 20));
    expect(rejected).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 60));
    expect(rejected).toHaveLength(1);
    expect(String(rejected[0])).toMatch(/timed out/);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(40);
    expect(q.requestTimeoutIntervalId).toBeUndefined();
    q.destroy();
  });

  it('a request answered in time leaves no timer behind once its deadline passes', async () => {
    applyKafkajsIdleFix({});
    const q = timedQueue(30);
    q.scheduleRequestTimeoutCheck();
    const rejected: unknown[] = [];
    q.push(request(7, (e) => rejected.push(e)));
    q.fulfillRequest({ correlationId: 7, payload: Buffer.alloc(0), size: 0 });
    await new Promise((r) => setTimeout(r, 60));
    expect(rejected).toHaveLength(0);
    expect(q.requestTimeoutIntervalId).toBeUndefined();
    q.destroy();
  });

  it('moves the check forward for a request with an earlier deadline', async () => {
    applyKafkajsIdleFix({});
    const q = timedQueue(30, 5);
    q.scheduleRequestTimeoutCheck();
    const rejected: number[] = [];
    q.push(request(1, () => rejected.push(1), 10_000));
    q.push(request(2, () => rejected.push(2)));
    await new Promise((r) => setTimeout(r, 80));
    expect(rejected).toEqual([2]);
    q.destroy();
    expect(q.requestTimeoutIntervalId).toBeUndefined();
  });
});

/** a queue whose requests time out after `ms` (kafkajs takes max(queue timeout, request timeout)) */
function timedQueue(ms: number, maxInFlightRequests = 1) {
  return new RequestQueue({
    maxInFlightRequests,
    requestTimeout: ms,
    enforceRequestTimeout: true,
    clientId: 't',
    broker: 'b',
    logger,
    isConnected: () => true,
  });
}

function request(correlationId: number, reject: (e: unknown) => void, requestTimeout?: number) {
  return {
    entry: { correlationId, apiName: 'Fetch', apiKey: 1, apiVersion: 11, resolve() {}, reject },
    expectResponse: true,
    sendRequest() {},
    ...(requestTimeout === undefined ? {} : { requestTimeout }),
  };
}
