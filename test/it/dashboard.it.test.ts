// Issue 10, the dashboard in a real browser: Debian's chromium (installed by ensureChromium when
// missing) driven by playwright-core, against the API app (createServices → buildApp, real Kafka,
// PostgreSQL and registry) with every stage and the materializer running in this process on topics
// of a unique prefix. The page must show every group with its status, its chart must gain points
// as records flow, a stopped stage must turn its status within the (short) evaluation window, and
// an API restart must read "disconnected" and then reconnect. Screenshots: test-results/dashboard-*.png.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, createServices } from '@feedlog/api';
import { loadConfig, repoRoot } from '@feedlog/common';
import { migrate } from '@feedlog/migrations';
import { serdeFor } from '@feedlog/schemas';
import { testSchema, waitFor } from '@feedlog/test';
import { chromiumArgs, ensureChromium } from '@feedlog/test/chromium';
import { topicNames } from '@feedlog/topics';
import type { FastifyInstance } from 'fastify';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deletePrefixedSubjects,
  type RunningPipeline,
  registerPrefixedSubjects,
  startPipeline,
} from './api-e2e-helpers.ts';
import {
  applyPrefixedTopics,
  deletePrefixedTopics,
  generateHeadlines,
  produceKeyed,
  testKafka,
  uniquePrefix,
} from './pipeline-helpers.ts';

const MODEL = 'all-MiniLM-L6-v2-int8';
const config = loadConfig();
const registryUrl = config.registry.url;
const embeddingBaseUrl = config.embedder.baseUrl;
const shots = join(repoRoot(), 'test-results');
const STAGES = ['classify', 'cluster', 'embed', 'index', 'materialize'];
const BAD = ['ERR', 'STOP', 'STALL'];

describe('the dashboard in headless Chromium (issue 10)', () => {
  const kafka = testKafka('dashboard-it');
  const prefix = uniquePrefix('dash');
  const indexDir = mkdtempSync(join(tmpdir(), 'feedlog-dashboard-'));
  const log = (s: string) => process.stderr.write(`[dashboard] ${s}\n`);
  let schema: Awaited<ReturnType<typeof testSchema>>;
  let pipeline: RunningPipeline | undefined;
  let app: FastifyInstance | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let port = 0;
  const pageErrors: string[] = [];
  const raw = serdeFor('RawHeadline', `${prefix}${topicNames.raw}`, { prefix, registryUrl });
  let produced = 0;
  const produce = async (n: number) => {
    const rows = generateHeadlines(n, `job-dash-${produced}`, Date.UTC(2014, 2, 10) + produced * 60_000);
    // distinct URLs per call, so every call adds new items
    const records = rows.map((r) => ({
      ...r.raw,
      item_id: `${r.raw.item_id.slice(0, 24)}${produced.toString(16).padStart(8, '0')}`,
    }));
    produced += n;
    await produceKeyed(kafka, `${prefix}${topicNames.raw}`, records, (r) => raw.encode(r), 100);
  };

  /** The API as production builds it, with a short lag window so a status turns within seconds. */
  const startApi = async (): Promise<void> => {
    const url = new URL(config.postgres.url);
    url.searchParams.set('options', `-c search_path=${schema.schema}`);
    const { settings: _s, ...opts } = createServices(
      { ...config, postgres: { ...config.postgres, url: url.toString() } },
      {
        FEEDLOG_TOPIC_PREFIX: prefix,
        INDEX_DIR: indexDir,
        EMBEDDING_BASE_URL: embeddingBaseUrl,
        EMBEDDING_MODEL: MODEL,
      },
      { lag: { intervals: 5, minDistanceMs: 500, minSamples: 2 } },
    );
    app = await buildApp({ ...opts, dashboard: { intervalMs: 1_000, opsIntervalMs: 2_000 } });
    await app.listen({ host: '127.0.0.1', port });
    port = (app.server.address() as AddressInfo).port;
  };

  const groupStatuses = () =>
    page.$$eval('#groups tr[data-group]', (rows) =>
      rows.map((r) => ({ group: r.getAttribute('data-group') ?? '', status: r.getAttribute('data-status') ?? '' })),
    );
  /** the groups table and the graph's stage nodes, read in one go (both are painted from one event) */
  const snapshot = () =>
    page.$$eval('#groups tr[data-group], #graph [data-node^="stage:"]', (els) =>
      els.map((e) => ({
        group: e.getAttribute('data-group'),
        node: e.getAttribute('data-node'),
        status: e.getAttribute('data-status') ?? '',
      })),
    );
  const stageOf = (group: string) => STAGES.find((s) => group.replace(/\.g\d+$/, '').endsWith(`.${s}`));
  const points = async () => Number(await page.getAttribute('#chart-rate', 'data-points'));
  const shot = (name: string) => page.screenshot({ path: join(shots, `dashboard-${name}.png`), fullPage: true });

  beforeAll(async () => {
    ensureChromium(log);
    mkdirSync(shots, { recursive: true });
    schema = await testSchema('dash');
    await migrate(schema.pool);
    await applyPrefixedTopics(kafka, prefix);
    await registerPrefixedSubjects(prefix, registryUrl);
    pipeline = await startPipeline({
      kafka,
      prefix,
      registryUrl,
      embeddingBaseUrl,
      embeddingModel: MODEL,
      pool: schema.pool,
      indexDir,
      log,
    });
    await startApi();
    browser = await chromium.launch({ executablePath: ensureChromium(log), headless: true, args: chromiumArgs });
    page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource|ERR_CONNECTION_REFUSED|EventSource/.test(m.text()))
        pageErrors.push(m.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await pipeline?.stop();
    await deletePrefixedTopics(kafka, prefix);
    await deletePrefixedSubjects(prefix, registryUrl);
    await schema?.drop();
    rmSync(indexDir, { recursive: true, force: true });
  });

  it('shows every group with its status, a chart that grows, a stopped stage turning, and survives an API restart', async () => {
    await produce(60);
    // one record classify cannot decode: its dead letter must show on the page with the reason
    await produceKeyed(
      kafka,
      `${prefix}${topicNames.raw}`,
      [{ item_id: 'poison-1' }],
      async () => Buffer.from('not avro'),
      1,
    );
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector('#conn[data-state="connected"]', { timeout: 15_000 });

    // every stage's group appears with a status, and the graph shows the same (OK once caught up)
    await waitFor(
      'every stage OK in the table and the graph',
      async () => {
        const snap = await snapshot();
        const ok = new Set(snap.filter((g) => g.group && g.status === 'OK').map((g) => stageOf(g.group ?? '')));
        const graphOk = snap.filter((n) => n.node && n.status === 'OK').map((n) => n.node?.slice('stage:'.length));
        return STAGES.every((st) => ok.has(st) && graphOk.includes(st));
      },
      150_000,
      500,
    );
    expect(new Set((await groupStatuses()).map((g) => stageOf(g.group)))).toEqual(new Set(STAGES));

    // the chart gains points while records flow
    const before = await points();
    await produce(40);
    await waitFor('three more chart points', async () => (await points()) >= before + 3, 30_000, 250);
    expect(await points()).toBeGreaterThan(before);
    await page.waitForSelector('#jobs tr[data-job]', { timeout: 30_000 });
    await waitFor(
      'the dead letter on the page',
      async () => (await page.textContent('#dlq-counts [data-stage="classify"]'))?.includes('classify: 1'),
      30_000,
      250,
    );
    expect(await page.textContent('#dlq tbody')).toMatch(
      /classify.*WrongMagicByteError: message on \S+ starts with byte 110/s,
    );
    await shot('running');

    // classify stops; records keep arriving: its status turns within the window
    await pipeline!.stopStage('classify');
    await produce(40);
    const status = await waitFor(
      'classify turning ERR/STOP/STALL',
      async () => {
        const st = (await groupStatuses()).find((g) => stageOf(g.group) === 'classify')?.status;
        return st && BAD.includes(st) ? st : undefined;
      },
      60_000,
      500,
    );
    log(`stopped classify turned ${status}`);
    expect(BAD).toContain(status);
    expect(await page.getAttribute('#graph [data-node="stage:classify"]', 'data-status')).toBe(status);
    await shot('stopped-stage');

    // the API restarts: the page keeps its figures, says "disconnected", then reconnects by itself
    const lastGroups = (await groupStatuses()).length;
    const chartBefore = await points();
    await app!.close();
    app = undefined;
    await page.waitForSelector('#conn[data-state="disconnected"]', { timeout: 15_000 });
    expect(await page.textContent('#conn')).toMatch(/disconnected/);
    expect((await groupStatuses()).length).toBe(lastGroups);
    await shot('disconnected');
    await startApi();
    await page.waitForSelector('#conn[data-state="connected"]', { timeout: 30_000 });
    // the page keeps the points it had (the restarted API has a shorter history) and adds new ones
    await waitFor('the chart going on after reconnecting', async () => (await points()) > chartBefore, 30_000, 250);
    await shot('reconnected');

    expect(pageErrors).toEqual([]);
  });
});
