/**
 * `feedlog up` → `feedlog status` → `feedlog down` over every feedlog service (registry, embedder,
 * the stages, the materializer, the poller, the API), by the launcher's own functions, on ports of
 * their own (registry 27081, embedder 27090, API 27080, stages 27300+) with a FEEDLOG_HOME, a
 * database and a topic prefix of their own. Kafka and PostgreSQL are the harness's (shared) ones,
 * so only the services are started: what `status` says of them is the point.
 * Every service must answer its readiness probe, /healthz and /metrics on loopback, and stop on
 * SIGTERM within its deadline (the launcher's stop would say `killed` otherwise) with runProcess's
 * last line, `stopped`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@feedlog/common';
import { migrate } from '@feedlog/migrations';
import { nodeServices, stackDown, stackStatus, stackUp } from '@feedlog/scripts/stack';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyPrefixedTopics,
  deletePrefixedTopics,
  httpGet,
  registerPrefixedSubjects,
  testKafka,
  uniquePrefix,
} from '../src/index.ts';

// Below 32768, outside Linux's ephemeral range (ip_local_port_range 32768-60999): a port in that
// range can be the local end of any other test's outgoing connection at the moment `up` checks it
// (CI once failed on "port 49302 needed by cluster is already in use by an unknown process").
const PORTS = {
  KAFKA_PORT: '27092',
  POSTGRES_PORT: '27432',
  SCHEMA_REGISTRY_PORT: '27081',
  EMBEDDER_PORT: '27090',
  API_PORT: '27080',
  STAGE_PORT_BASE: '27300',
};

const saved = { ...process.env };
const home = mkdtempSync(join(tmpdir(), 'feedlog-status-'));
const prefix = uniquePrefix('status');
const database = `feedlog_status_${prefix.replace(/[^a-z0-9]/gi, '_').toLowerCase()}`.slice(0, 60);
const sharedUrl = process.env.DATABASE_URL ?? loadConfig().postgres.url;
const ownUrl = (() => {
  const u = new URL(sharedUrl);
  u.pathname = `/${database}`;
  return u.toString();
})();
const log = (line: string) => process.stderr.write(`[stack-status] ${line}\n`);

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: sharedUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

// the services `up` spawns inherit this process's environment: point them at their own ports,
// database, home and topic prefix (consumer groups follow the prefix; the materializer's is named)
Object.assign(process.env, PORTS, {
  FEEDLOG_HOME: home,
  DATABASE_URL: ownUrl,
  SCHEMA_REGISTRY_URL: `http://127.0.0.1:${PORTS.SCHEMA_REGISTRY_PORT}`,
  EMBEDDING_BASE_URL: `http://127.0.0.1:${PORTS.EMBEDDER_PORT}/v1`,
  EMBEDDER_MODELS: 'all-MiniLM-L6-v2-int8',
  TOPIC_PREFIX: prefix,
  FEEDLOG_TOPIC_PREFIX: prefix,
  MATERIALIZE_GROUP: `${prefix}materialize`,
  LOG_LEVEL: 'warn',
  SHUTDOWN_DEADLINE_MS: '10000',
});
const config = loadConfig();
const logTail = (name: string) => {
  try {
    return readFileSync(join(home, 'logs', `${name}.log`), 'utf8').slice(-2_000);
  } catch {
    return '(no log)';
  }
};
const services = nodeServices(config);
const names = services.map((s) => s.name);
const infra = names.filter((n) => n === 'registry');
const rest = names.filter((n) => n !== 'registry');

describe('feedlog up → status: every service answers', () => {
  beforeAll(async () => {
    await admin((c) => c.query(`CREATE DATABASE "${database}"`));
    const pool = new pg.Pool({ connectionString: ownUrl, max: 2 });
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }
    await applyPrefixedTopics(testKafka(), prefix);
    try {
      // the bootstrap step of `up`, for the prefixed topics: the registry first, then the subjects
      await stackUp(config, log, infra);
      await registerPrefixedSubjects(prefix, config.registry.url);
      const report = await stackUp(config, log, rest);
      for (const r of report) log(`${r.component}: ${r.result} in ${r.seconds.toFixed(1)} s`);
    } catch (e) {
      // the services' own words say why one did not come up
      for (const n of names) log(`${n}.log:\n${logTail(n)}`);
      throw e;
    }
  }, 900_000);

  afterAll(async () => {
    await stackDown(config, names).catch(() => undefined);
    Object.assign(process.env, saved);
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    await deletePrefixedTopics(testKafka(), prefix).catch(() => undefined);
    await admin((c) => c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }, 120_000);

  it('status: every service started by up is answering', async () => {
    const status = (await stackStatus(config)).filter((s) => names.includes(s.component));
    expect(status.map((s) => s.component).sort()).toEqual([...names].sort());
    for (const s of status) expect(s, JSON.stringify(s)).toMatchObject({ state: 'answering' });
  });

  it('each answers /healthz, /readyz and /metrics on loopback', async () => {
    for (const svc of services) {
      const base = `http://127.0.0.1:${svc.port}`;
      for (const path of ['/healthz', '/readyz', '/metrics']) {
        const r = await httpGet(base + path, 5_000);
        expect(r?.status, `${svc.name} ${path}: ${r?.body.slice(0, 300)}`).toBe(200);
      }
      // the stages' Prometheus port (STAGE_PORT_BASE + 100 + i) as well
      const metricsPort = svc.env?.METRICS_PORT;
      if (metricsPort) expect((await httpGet(`http://127.0.0.1:${metricsPort}/metrics`))?.status).toBe(200);
    }
  });

  it('down: each stops on SIGTERM within its deadline, ending with runProcess `stopped`', async () => {
    const results = await stackDown(config, names);
    for (const r of results) expect(r, JSON.stringify(r)).toMatchObject({ result: 'terminated' });
    for (const n of names) {
      expect(logTail(n), `${n}.log`).toContain('"event":"stopped"');
    }
  });
});
