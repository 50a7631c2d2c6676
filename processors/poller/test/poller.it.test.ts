import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Poller, type PollReport } from '../src/poller.ts';
import { parseSchedule } from '../src/schedule.ts';
import { FeedServer } from './feed-server.ts';
import { type PollerHarness, pollerHarness } from './harness.ts';

const fixture = (f: string) => readFileSync(join(import.meta.dirname, '../fixtures', f));
const world = fixture('world.rss');
const tech = fixture('tech.atom');
const T0 = Date.UTC(2026, 2, 2, 12, 0, 0);

describe('the poller against a loopback feed server, Kafka and PostgreSQL', () => {
  let h: PollerHarness;
  let server: FeedServer;
  let now = T0;
  let poller: Poller;
  const every = parseSchedule('10m');

  beforeAll(async () => {
    h = await pollerHarness('poller');
    server = await new FeedServer().start();
    poller = new Poller({
      store: h.store,
      pool: h.pool,
      sink: h.sink,
      clock: () => now,
      concurrency: 4,
      backoffBaseMs: 60_000,
      fetch: { timeoutMs: 1_500, maxBytes: 64 * 1024, maxRedirects: 3 },
    });
  });
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  /** add feeds, poll what is due, return the report of each feed by URL */
  const pollAll = async () => new Map((await poller.drain()).map((r) => [r.url, r]));
  const feedRow = async (id: number) => (await h.store.get(id))!;

  it('ETag and Last-Modified: the second poll is a 304 and produces nothing; items carry stable ids', async () => {
    const before = await h.produced();
    const etagUrl = server.route('/etag/world.rss', { kind: 'feed', body: world, etag: true });
    const lmUrl = server.route('/lm/tech.atom', {
      kind: 'feed',
      body: tech,
      lastModified: 'Mon, 02 Mar 2026 09:00:00 GMT',
    });
    const a = await h.store.add({ url: etagUrl, schedule: every }, now);
    const b = await h.store.add({ url: lmUrl, schedule: every }, now);
    const first = await pollAll();
    expect(first.get(etagUrl)).toMatchObject({ outcome: 'items', items: 5, produced: 5, httpStatus: 200 });
    expect(first.get(lmUrl)).toMatchObject({ outcome: 'items', items: 3, produced: 3 });
    expect(await h.produced()).toBe(before + 8);
    expect((await feedRow(a.id)).etag).toMatch(/^"/);
    expect((await feedRow(b.id)).lastModified).toBe('Mon, 02 Mar 2026 09:00:00 GMT');
    expect(new Date((await feedRow(a.id)).nextDueAt).getTime()).toBe(now + 600_000);

    expect((await pollAll()).size).toBe(0); // nothing due yet
    now += 600_000;
    const second = await pollAll();
    expect(second.get(etagUrl)).toMatchObject({ outcome: 'not_modified', httpStatus: 304, produced: 0 });
    expect(second.get(lmUrl)).toMatchObject({ outcome: 'not_modified', produced: 0 });
    expect(await h.produced()).toBe(before + 8);
    const f = await feedRow(a.id);
    expect([f.itemsSeen, f.polls, f.consecutiveFailures]).toEqual([5, 2, 0]);
    // each poll is a job
    const jobs = await h.pool.query(
      "SELECT caller, expected_count, status, details->>'undated_items' AS undated FROM jobs WHERE caller = $1 ORDER BY created_at",
      [`poller:feed/${a.id}`],
    );
    // the museum brief has no date: it carries the poll time, and the job says so
    expect(jobs.rows.map((j) => [j.expected_count, j.status, j.undated])).toEqual([
      [5, 'running', '1'],
      [0, 'done', '0'],
    ]);
  });

  it('a 304 that still carries Content-Length does not stall the poll', async () => {
    const url = server.route('/etag-len/world.rss', { kind: 'feed', body: world, etag: true, lengthOn304: true });
    await h.store.add({ url, schedule: every }, now);
    await pollAll();
    now += 600_000;
    const t0 = performance.now();
    expect((await pollAll()).get(url)).toMatchObject({ outcome: 'not_modified' });
    expect(performance.now() - t0).toBeLessThan(1_000); // the fetch cap is 1.5 s
  });

  it('a feed without validators re-polled unchanged produces nothing; a new item alone is produced', async () => {
    const before = await h.produced();
    const url = server.route('/plain/world.rss', { kind: 'feed', body: world });
    await h.store.add({ url, schedule: every }, now);
    expect((await pollAll()).get(url)).toMatchObject({ produced: 5 });
    now += 600_000;
    expect((await pollAll()).get(url)).toMatchObject({ outcome: 'items', items: 5, produced: 0 });
    const more = Buffer.from(
      world.toString().replace('<item>', '<item><title>Fresh</title><guid>world-2000</guid></item><item>'),
    );
    server.route('/plain/world.rss', { kind: 'feed', body: more });
    now += 600_000;
    expect((await pollAll()).get(url)).toMatchObject({ items: 6, produced: 1 });
    // 5 here + 5 of /etag (same publisher host and guids) would be one item downstream: same keys
    expect(await h.produced()).toBe(before + 6);
  });

  it('500: error recorded, failures counted, exponential backoff; then recovery resets it', async () => {
    const url = server.route('/flaky.rss', { kind: 'status', status: 500 });
    const f = await h.store.add({ url, schedule: parseSchedule('1m') }, now);
    const r1 = (await pollAll()).get(url)!;
    expect(r1).toMatchObject({ outcome: 'error', httpStatus: 500, error: 'HTTP 500' });
    let row = await feedRow(f.id);
    expect([row.consecutiveFailures, row.lastError, new Date(row.nextDueAt).getTime() - now]).toEqual([
      1,
      'HTTP 500',
      60_000,
    ]);
    now += 60_000;
    await pollAll();
    row = await feedRow(f.id);
    expect([row.consecutiveFailures, new Date(row.nextDueAt).getTime() - now]).toEqual([2, 120_000]);
    now += 120_000;
    await pollAll();
    expect(new Date((await feedRow(f.id)).nextDueAt).getTime() - now).toBe(240_000);
    server.route('/flaky.rss', { kind: 'feed', body: world });
    now += 240_000;
    expect((await pollAll()).get(url)).toMatchObject({ outcome: 'items' });
    row = await feedRow(f.id);
    expect([row.consecutiveFailures, row.lastError]).toEqual([0, null]);
  });

  it('429 and 503 with Retry-After (seconds and an HTTP date) are honoured', async () => {
    const a = server.route('/busy-429.rss', { kind: 'status', status: 429, headers: { 'retry-after': '900' } });
    const later = new Date(Date.now() + 3_600_000).toUTCString();
    const b = server.route('/busy-503.rss', { kind: 'status', status: 503, headers: { 'retry-after': later } });
    const fa = await h.store.add({ url: a, schedule: every }, now);
    const fb = await h.store.add({ url: b, schedule: every }, now);
    const r = await pollAll();
    expect(r.get(a)).toMatchObject({ outcome: 'retry_later', httpStatus: 429 });
    expect(r.get(b)).toMatchObject({ outcome: 'retry_later', httpStatus: 503 });
    expect(new Date((await feedRow(fa.id)).nextDueAt).getTime() - now).toBe(900_000);
    const waitB = new Date((await feedRow(fb.id)).nextDueAt).getTime() - now;
    expect(waitB).toBeGreaterThan(3_500_000);
    expect(waitB).toBeLessThanOrEqual(3_600_000);
    await h.store.setEnabled(fa.id, false);
    await h.store.setEnabled(fb.id, false);
  });

  it('a slow body is cut at the time cap while the other feeds are polled meanwhile', async () => {
    const slow = server.route('/slow.rss', { kind: 'slow', body: world, chunkEveryMs: 200 });
    const fast = server.route('/fast.atom', { kind: 'feed', body: tech });
    const s = await h.store.add({ url: slow, schedule: every }, now);
    await h.store.add({ url: fast, schedule: every }, now);
    const done: [string, number][] = [];
    const t0 = performance.now();
    const p = new Poller({
      store: h.store,
      pool: h.pool,
      sink: h.sink,
      clock: () => now,
      concurrency: 2,
      fetch: { timeoutMs: 1_000, maxBytes: 64 * 1024, maxRedirects: 3 },
      onPoll: (r: PollReport) => done.push([r.url, performance.now() - t0]),
    });
    const reports = new Map((await p.drain()).map((r) => [r.url, r]));
    expect(reports.get(slow)).toMatchObject({ outcome: 'error', error: 'body not complete within 1000 ms' });
    expect(reports.get(fast)).toMatchObject({ outcome: 'items', produced: 3 });
    expect(done[0]![0]).toBe(fast);
    expect(done[0]![1]).toBeLessThan(900);
    expect((await feedRow(s.id)).consecutiveFailures).toBe(1);
    await h.store.setEnabled(s.id, false);
  });

  it('redirects: a permanent one moves the stored URL, a temporary one does not, a loop is bounded', async () => {
    const target = server.route('/new-home.rss', { kind: 'feed', body: world, etag: true });
    const perm = server.route('/moved.rss', { kind: 'redirect', status: 301, to: '/moved-2.rss' });
    server.route('/moved-2.rss', { kind: 'redirect', status: 308, to: target });
    const temp = server.route('/temp.rss', { kind: 'redirect', status: 302, to: '/new-home-2.rss' });
    server.route('/new-home-2.rss', { kind: 'feed', body: tech });
    const loop = server.route('/loop.rss', { kind: 'redirect', status: 302, to: '/loop.rss' });
    const fp = await h.store.add({ url: perm, schedule: every }, now);
    const ft = await h.store.add({ url: temp, schedule: every }, now);
    const fl = await h.store.add({ url: loop, schedule: every }, now);
    const r = await pollAll();
    expect(r.get(perm)).toMatchObject({ outcome: 'items', newUrl: target });
    expect((await feedRow(fp.id)).url).toBe(target);
    expect(r.get(temp)).toMatchObject({ outcome: 'items' });
    expect((await feedRow(ft.id)).url).toBe(temp);
    expect(r.get(loop)).toMatchObject({ outcome: 'error', error: 'more than 3 redirects' });
    // a second feed moved permanently onto a URL another feed has: it is polled, its URL stays
    const twin = server.route('/twin.rss', { kind: 'redirect', status: 301, to: target });
    const fw = await h.store.add({ url: twin, schedule: every }, now);
    expect((await pollAll()).get(twin)).toMatchObject({ outcome: 'items', newUrl: target });
    expect((await feedRow(fw.id)).url).toBe(twin);
    expect(server.hits.get('/loop.rss')).toBe(4);
    await h.store.setEnabled(fl.id, false);
  });

  it('oversized, compressed (gzip, deflate, br), gzip without its header, HTML and truncated bodies', async () => {
    const before = await h.produced();
    const big = Buffer.from(world.toString().replace('</channel>', `<!-- ${'x'.repeat(70 * 1024)} --></channel>`));
    const urls = {
      big: server.route('/big.rss', { kind: 'feed', body: big }),
      bomb: server.route('/bomb.rss', { kind: 'encoded', encoding: 'gzip', body: big }),
      gzip: server.route('/gz.rss', { kind: 'encoded', encoding: 'gzip', body: world }),
      deflate: server.route('/deflate.rss', { kind: 'encoded', encoding: 'deflate', body: world }),
      br: server.route('/br.atom', { kind: 'encoded', encoding: 'br', body: tech }),
      nohdr: server.route('/gz-no-header.rss', { kind: 'encoded', encoding: 'gzip-no-header', body: world }),
      html: server.route('/page.html', {
        kind: 'feed',
        type: 'text/html',
        body: Buffer.from('<!DOCTYPE html><html><body>Moved</body></html>'),
      }),
      truncated: server.route('/cut.rss', { kind: 'feed', body: world.subarray(0, world.length - 200) }),
    };
    const ids: Record<string, number> = {};
    for (const [k, url] of Object.entries(urls)) ids[k] = (await h.store.add({ url, schedule: every }, now)).id;
    const r = await pollAll();
    expect(r.get(urls.big)?.error).toBe(`body of ${big.length} bytes is over the 65536-byte cap`);
    expect(r.get(urls.bomb)?.error).toBe('body over the 65536-byte cap (after decoding)');
    expect(r.get(urls.gzip)).toMatchObject({ outcome: 'items', items: 5 });
    expect(r.get(urls.deflate)).toMatchObject({ outcome: 'items', items: 5 });
    expect(r.get(urls.br)).toMatchObject({ outcome: 'items', items: 3 });
    expect(r.get(urls.nohdr)?.error).toMatch(/^gzip_without_header: /);
    expect(r.get(urls.html)?.error).toMatch(/^html_not_feed: /);
    expect(r.get(urls.truncated)?.error).toMatch(/^malformed_xml: /);
    for (const k of ['big', 'bomb', 'nohdr', 'html', 'truncated']) {
      const f = await feedRow(ids[k]!);
      expect([k, f.consecutiveFailures, f.itemsSeen, f.lastError !== null]).toEqual([k, 1, 0, true]);
    }
    expect(await h.produced()).toBe(before + 13); // the three good bodies only, nothing partial
  });
});
