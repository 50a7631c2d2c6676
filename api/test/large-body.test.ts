import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { item, testApp, WRITE_KEY } from './helpers.ts';

// The body lane (api/src/body/): bodies from 64 KiB are parsed and validated in a worker thread
// at low priority, one at a time, behind an admission limit (issue 12).
const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

/** the lane (bodies read into its receive slots), the lane reading as Fastify does, and no lane */
async function trio(): Promise<{ lane: FastifyInstance; concat: FastifyInstance; inline: FastifyInstance }> {
  const lane = (await testApp({ rateLimit: false })).app;
  const concat = (await testApp({ rateLimit: false, largeBodies: { slots: false } })).app;
  const inline = (await testApp({ rateLimit: false, largeBodies: false })).app;
  apps.push(lane, concat, inline);
  return { lane, concat, inline };
}

const post = (app: FastifyInstance, payload: string | Buffer, query = '') =>
  app.inject({
    method: 'POST',
    url: `/v1/items${query}`,
    headers: { 'content-type': 'application/json', 'x-api-key': WRITE_KEY },
    payload,
  });

/** the answer without what differs per request */
const comparable = (body: Record<string, unknown>) => {
  const { job_id: _j, details, ...rest } = body;
  return { ...rest, details: (details as { request_id?: string } | null)?.request_id ? 'request id' : details };
};

const long = 'Lorem ipsum dolor sit amet, '.repeat(20);

// generous: the worker runs at niceness 19, so on a loaded machine it waits for a core
describe('large bodies through the body lane', { timeout: 120_000 }, () => {
  it('a batch over the threshold gets the same answer as on the event loop: valid, invalid, partial', async () => {
    const { lane, concat, inline } = await trio();
    const valid = JSON.stringify({ items: Array.from({ length: 300 }, (_, i) => item(i, { summary: long })) });
    const invalid = JSON.stringify({
      items: Array.from({ length: 300 }, (_, i) =>
        i % 50 === 7
          ? item(i, { title: 'x'.repeat(5000), published_at: '2024-13-01T00:00:00Z', extra: 1 })
          : i % 50 === 9
            ? item(i, { url: 'ftp://nope', source: '\u0000' })
            : item(i, { summary: long }),
      ),
    });
    expect(valid.length).toBeGreaterThan(64 * 1024);
    for (const [payload, query, status] of [
      [valid, '', 202],
      [invalid, '', 400],
      [invalid, '?partial=true', 202],
    ] as const) {
      const a = await post(lane, payload, query);
      const b = await post(inline, payload, query);
      const c = await post(concat, payload, query);
      expect(a.statusCode).toBe(status);
      expect(b.statusCode).toBe(status);
      expect(c.statusCode).toBe(status);
      expect(comparable(a.json())).toEqual(comparable(b.json()));
      expect(comparable(c.json())).toEqual(comparable(b.json()));
    }
    // an invalid batch names every bad item and field (the worker's ajv errors reach the route)
    const bad = (await post(lane, invalid)).json();
    expect(bad.error).toBe('invalid_items');
    expect(bad.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ index: 7, field: 'title' }),
        expect.objectContaining({ index: 7, field: 'published_at' }),
        expect.objectContaining({ index: 7, field: 'extra', message: 'unknown field' }),
        expect.objectContaining({ index: 9, field: 'url' }),
        expect.objectContaining({ index: 9, field: 'source' }),
      ]),
    );
  });

  it('large malformed bodies are refused as on the event loop: nesting, values, syntax, UTF-8, prototype keys', async () => {
    const { lane, concat, inline } = await trio();
    const pad = ' '.repeat(70 * 1024);
    const bodies: Buffer[] = [
      Buffer.from(`${'['.repeat(40_000)}${']'.repeat(40_000)}`),
      Buffer.from(`{"items":[${'1,'.repeat(40_000)}1]}`),
      Buffer.from(`{"items":[${pad}`),
      Buffer.concat([Buffer.from(`{"items":[{"title":"`), Buffer.from([0xc3, 0x28]), Buffer.from(`"}]}${pad}`)]),
      Buffer.from(`{"items":[],"__proto__":{"x":1}}${pad}`),
    ];
    for (const body of bodies) {
      const a = await post(lane, body);
      const b = await post(inline, body);
      const c = await post(concat, body);
      expect(a.statusCode).toBe(400);
      expect(comparable(a.json())).toEqual(comparable(b.json()));
      expect(comparable(c.json())).toEqual(comparable(b.json()));
    }
  });

  it.runIf(process.platform === 'linux')(
    'the worker thread runs at niceness 19, the rest of the process unchanged',
    async () => {
      const { lane } = await trio();
      const niceOf = (stat: string) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]); // field 19
      const threads = () =>
        readdirSync('/proc/self/task').map((tid) => niceOf(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')));
      const main = niceOf(readFileSync('/proc/self/stat', 'utf8'));
      const lowest = threads().filter((n) => n === 19).length;
      const r = await post(
        lane,
        JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => item(i, { summary: long })) }),
      );
      expect(r.statusCode).toBe(202);
      expect(threads().filter((n) => n === 19)).toHaveLength(lowest + 1);
      expect(niceOf(readFileSync('/proc/self/stat', 'utf8'))).toBe(main);
    },
  );

  it('a full lane answers 503 busy with Retry-After before reading the body; a freed place takes the next body', async () => {
    const t = await testApp({ rateLimit: false, largeBodies: { queue: 0 } });
    apps.push(t.app);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (t.app.server.address() as AddressInfo).port;
    const body = Buffer.from(
      JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => item(i, { summary: long })) }),
    );
    // request A declares its body and sends half of it: it holds the lane's only place while read
    const socket = connect(port, '127.0.0.1');
    const answer = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d) => {
        text += d.toString();
        if (/\r\n\r\n[\s\S]*\}$/.test(text)) resolve(text);
      });
    });
    socket.write(
      `POST /v1/items HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nx-api-key: ${WRITE_KEY}\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    socket.write(body.subarray(0, body.length / 2));
    // A holds the place once its headers are through the hooks (the gauge says so; no sleep)
    const admitted = async () =>
      /^feedlog_api_large_bodies 1$/m.test((await t.app.inject({ method: 'GET', url: '/metrics' })).body);
    while (!(await admitted())) await new Promise((r) => setImmediate(r));
    const busy = await post(t.app, body);
    expect(busy.statusCode).toBe(503);
    expect(busy.headers['retry-after']).toBe('1');
    expect(busy.json()).toMatchObject({
      error: 'busy',
      message: expect.stringMatching(/already being read or parsed/),
    });
    const produced = t.sink.records.length;
    socket.write(body.subarray(body.length / 2)); // not end(): a half-closed request is aborted by Node
    expect(await answer).toMatch(/^HTTP\/1.1 202/);
    socket.destroy();
    expect(t.sink.records.length).toBe(produced + 200);
    expect((await post(t.app, body)).statusCode).toBe(202);
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(
      /^feedlog_api_large_bodies_refused_total 1$/m,
    );
  });

  it('a chunked body (no Content-Length) is read only up to the threshold: a larger one is 411, a small one accepted', async () => {
    const t = await testApp({ rateLimit: false });
    apps.push(t.app);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    /** a POST whose body is sent with Transfer-Encoding: chunked, in 16 KiB chunks */
    const chunked = (body: Buffer) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let got = '';
        socket.on('data', (d) => {
          got += d.toString();
          if (/\r\n\r\n[\s\S]*\}$/.test(got)) {
            socket.destroy();
            resolve(got);
          }
        });
        socket.on('error', reject);
        socket.write(
          `POST /v1/items HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nx-api-key: ${WRITE_KEY}\r\ntransfer-encoding: chunked\r\n\r\n`,
        );
        for (let i = 0; i < body.length; i += 16 * 1024) {
          const part = body.subarray(i, i + 16 * 1024);
          socket.write(`${part.length.toString(16)}\r\n`);
          socket.write(part);
          socket.write('\r\n');
        }
        socket.write('0\r\n\r\n');
      });
    const big = Buffer.from(
      JSON.stringify({ items: Array.from({ length: 300 }, (_, i) => item(i, { summary: long })) }),
    );
    expect(big.length).toBeGreaterThan(64 * 1024);
    const refused = await chunked(big);
    expect(refused).toMatch(/^HTTP\/1.1 411/);
    expect(JSON.parse(refused.slice(refused.indexOf('\r\n\r\n') + 4))).toMatchObject({
      error: 'length_required',
      message: expect.stringMatching(/must declare its Content-Length/),
    });
    expect(t.sink.records.length).toBe(0);
    const small = await chunked(Buffer.from(JSON.stringify({ items: [item(1)] })));
    expect(small).toMatch(/^HTTP\/1.1 202/);
    expect(t.sink.records.length).toBe(1);
  });
});
