import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { buildApp, MemoryApiKeyStore, MemorySink } from '@feedlog/api';
import { loadSchemas, type RawHeadline } from '@feedlog/schemas';
import { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerProduceCommand } from '../src/cli.ts';
import { FeedlogApiError, FeedlogClient } from '../src/client.ts';
import { readItems } from '../src/readers.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const KEY = 'fl_sdk_test';
const rawType = loadSchemas().types.RawHeadline;

let closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.reverse()) await c();
  closers = [];
});

/** The real API (in-memory sink) listening on a free port. */
async function realApi(): Promise<{ url: string; sink: MemorySink; app: FastifyInstance }> {
  const sink = new MemorySink();
  const app = await buildApp({
    sink,
    encoder: { encode: async (r: RawHeadline) => rawType.toBuffer(r), check: async () => undefined },
    apiKeys: new MemoryApiKeyStore().add(KEY, { name: 'sdk', scopes: ['write'], rateLimitPerMinute: 100_000 }),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => app.close());
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, sink, app };
}

/** A server whose handler the test scripts (failures, Retry-After). */
async function scripted(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<string> {
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const item = (i: number) => ({ source: 'sdk-test', url: `https://example.com/${i}`, title: `Item ${i}` });

describe('FeedlogClient', () => {
  it('batches by size and by linger, and returns each item id in input order', async () => {
    const { url, sink } = await realApi();
    const sizes: number[] = [];
    const client = new FeedlogClient({
      baseUrl: url,
      apiKey: KEY,
      batchSize: 4,
      lingerMs: 30,
      onBatch: (b) => sizes.push(b.size),
    });
    const [a, b] = await Promise.all([
      client.pushItems([0, 1, 2, 3, 4, 5].map(item)),
      client.pushItems([6, 7, 8].map(item)),
    ]);
    await client.close();
    // 9 items: two full batches of 4 and one lingered batch of 1
    expect(sizes.sort()).toEqual([1, 4, 4]);
    expect(a.accepted).toBe(6);
    expect(b.accepted).toBe(3);
    const keys = sink.records.map((r) => r.key);
    const ids = [...a.items, ...b.items].map((r) => (r.ok ? r.item_id : ''));
    expect(new Set(keys)).toEqual(new Set(ids));
    expect(ids).toHaveLength(9);
    // the same item always gets the same id
    const again = new FeedlogClient({ baseUrl: url, apiKey: KEY });
    const c = await again.pushItems([item(0)]);
    await again.close();
    expect(c.items[0]).toMatchObject({ ok: true, item_id: ids[0] });
  });

  it('retries 503/429 honouring Retry-After, then succeeds', async () => {
    const seen: number[] = [];
    let calls = 0;
    const url = await scripted((_req, body, res) => {
      calls++;
      seen.push(Date.now());
      if (calls === 1) {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(JSON.stringify({ error: 'unavailable', message: 'x', details: null }));
        return;
      }
      if (calls === 2) {
        res.writeHead(429, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'rate_limited', message: 'x', details: null }));
        return;
      }
      const n = (JSON.parse(body) as { items: unknown[] }).items.length;
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          job_id: 'j1',
          accepted: n,
          items: Array.from({ length: n }, (_, index) => ({ index, item_id: `id${index}` })),
          rejected: [],
        }),
      );
    });
    const client = new FeedlogClient({ baseUrl: url, minBackoffMs: 50, maxRetries: 4 });
    const r = await client.pushItems([item(1), item(2)]);
    await client.close();
    expect(calls).toBe(3);
    expect(r.items).toEqual([
      { ok: true, item_id: 'id0', job_id: 'j1' },
      { ok: true, item_id: 'id1', job_id: 'j1' },
    ]);
    // the first retry waited for Retry-After (1 s), the second for the backoff only
    expect(seen[1]! - seen[0]!).toBeGreaterThanOrEqual(950);
    expect(seen[2]! - seen[1]!).toBeLessThan(900);
  });

  it('does not retry a 4xx; reports an invalid batch per item; gives up after maxRetries', async () => {
    const { url } = await realApi();
    const noKey = new FeedlogClient({ baseUrl: url });
    await expect(noKey.pushItems([item(1)])).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    await noKey.close();

    const client = new FeedlogClient({ baseUrl: url, apiKey: KEY });
    const r = await client.pushItems([item(1), { ...item(2), url: 'not a url' }]);
    expect(r.accepted).toBe(0);
    expect(r.items[1]).toMatchObject({ ok: false, problems: [{ index: 1, field: 'url' }] });
    await client.close();

    let calls = 0;
    const down = await scripted((_req, _b, res) => {
      calls++;
      res.writeHead(502);
      res.end();
    });
    const giveUp = new FeedlogClient({ baseUrl: down, maxRetries: 2, minBackoffMs: 10 });
    const err = await giveUp.pushItems([item(1)]).catch((e: unknown) => e);
    await giveUp.close();
    expect(err).toBeInstanceOf(FeedlogApiError);
    expect((err as FeedlogApiError).status).toBe(502);
    expect(calls).toBe(3);
  });

  it('retries a refused connection until the server comes up', async () => {
    const { createServer: netServer } = await import('node:net');
    const probe = netServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const client = new FeedlogClient({ baseUrl: `http://127.0.0.1:${port}`, minBackoffMs: 100, maxRetries: 8 });
    const pending = client.pushItems([item(1)]);
    await new Promise((r) => setTimeout(r, 250));
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ job_id: 'late', accepted: 1, items: [{ index: 0, item_id: 'x' }], rejected: [] }));
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    const r = await pending;
    await client.close();
    expect(r.jobIds).toEqual(['late']);
  });
});

describe('readers and the produce command', () => {
  it('reads UCI CSV rows and JSONL lines as feed items', async () => {
    const csv = [];
    for await (const it of readItems(fixture('uci-sample.csv'))) csv.push(it);
    expect(csv).toHaveLength(13);
    expect(csv[2]).toEqual({
      source: 'www.ifamagazine.com',
      guid: 'uci:3',
      url: 'http://www.ifamagazine.com/news/us-open-stocks-fall-after-fed-official-hints-at-accelerated-tapering-294436',
      title: 'US open: Stocks fall after Fed official hints at accelerated tapering',
      published_at: new Date(1394470371550).toISOString(),
    });
    const jsonl = [];
    for await (const it of readItems(fixture('items.jsonl'))) jsonl.push(it);
    expect(jsonl.map((i) => i.title)).toEqual([
      'Rates held steady',
      'Markets rally on data',
      'Chip maker beats forecasts',
    ]);
    expect(jsonl[1]!.published_at).toBe('2024-03-01T10:00:00.000Z');
  });

  it('`produce --partial --json` pushes a file and reports the invalid row', async () => {
    const { url, sink } = await realApi();
    const out: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    const before = process.exitCode;
    try {
      const program = new Command().exitOverride();
      registerProduceCommand(program);
      await program.parseAsync([
        'node',
        'feedlog',
        'produce',
        fixture('uci-sample.csv'),
        '--url',
        url,
        '--api-key',
        KEY,
        '--batch',
        '5',
        '--partial',
        '--json',
      ]);
    } finally {
      log.mockRestore();
    }
    const summary = JSON.parse(out.at(-1)!);
    expect(summary).toMatchObject({ total: 13, accepted: 12, rejected: 1 });
    expect(summary.jobIds).toHaveLength(3); // 13 rows in batches of 5
    expect(summary.firstProblems[0]).toMatchObject({ index: 12 });
    expect(sink.records).toHaveLength(12);
    expect(process.exitCode).toBe(1);
    process.exitCode = before;
    const decoded = rawType.fromBuffer(sink.records[0]!.value) as RawHeadline;
    expect(decoded.headline.source).toBe('www.latimes.com');
  });
});
