import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PgApiKeyStore } from '@feedlog/api';
import { createKafka, loadConfig, repoRoot } from '@feedlog/common';
import { migrate } from '@feedlog/migrations';
import { type PostgresSpec, postgresDataDir, startPostgres, stopPostgres } from '@feedlog/scripts/launch/postgres';
import type { Kafka } from 'kafkajs';
import pg from 'pg';
import { applyPrefixedTopics, deletePrefixedTopics, registerPrefixedSubjects, uniquePrefix } from '../src/topics.ts';
import { KafkaCluster } from './kafka-cluster.ts';
import { Service } from './procs.ts';
import { StubEmbedder } from './stub-embedder.ts';

/**
 * The chaos suite's own stack: every process it may kill is its own child. PostgreSQL is a cluster
 * of its own (the launcher's initdb/pg_ctl, on its own port: the suite stops it), the registry,
 * each pipeline stage, the materializer and the API are child processes started as `feedlog up`
 * starts them, the embedder is an in-process stub it can take down. Kafka is the environment's
 * broker (KAFKA_BROKERS); isolation there is a topic prefix of this run's own.
 */
export const STAGES = ['classify', 'cluster', 'embed', 'index'] as const;
export type StageName = (typeof STAGES)[number];
export const PROCESSES = [...STAGES, 'materialize', 'registry', 'api'] as const;
export type ProcessName = (typeof PROCESSES)[number];

export interface StackPorts {
  postgres: number;
  registry: number;
  embedder: number;
  api: number;
  /** stage i's health port is base+i (classify 1 … index 4, materializer 5; extra instance n: base+10n+i); 0: free ports */
  stageBase: number;
}

/** A Kafka cluster of the run's own (broker scenarios): three KRaft nodes from the launcher, node 1 behind a stall proxy. */
export interface OwnKafka {
  /** client port of node 1; node i listens on port+i-1, controllers on port+100…, node 1's proxy on port+50 */
  port: number;
}

export interface StackOptions {
  /** mount a tmpfs of this many MiB on the index directory (disk-full scenario; needs root) */
  indexTmpfsMb?: number;
  /** a cluster of its own instead of the environment's broker */
  ownKafka?: OwnKafka;
  /** data directories, logs, the index (a FEEDLOG_HOME of its own) */
  home: string;
  ports?: Partial<StackPorts>;
  log?: (line: string) => void;
}

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === 'object' && a ? a.port : 0;
}

/** `feedlog.<prefixed name>.g1`, as the stages and stageNameFor derive their group ids. */
export const groupOf = (prefix: string, base: string) =>
  `feedlog.${prefix.replace(/[^a-z0-9_.-]/gi, '-').replace(/^[^a-z]+/i, '')}${base}.g1`;

export class ChaosStack {
  readonly prefix = uniquePrefix('chaos');
  kafka: Kafka = createKafka(loadConfig(), { clientId: 'feedlog-chaos' });
  /** the run's own cluster and node 1's proxy (broker scenarios) */
  cluster: KafkaCluster | undefined;
  readonly services = new Map<string, Service>();
  /** extra instances of a stage (rebalance storm), by name `<stage>#<n>` */
  readonly extras = new Map<string, Service>();
  pool!: pg.Pool;
  apiKey = '';
  embedder!: StubEmbedder;
  ports!: StackPorts;
  readonly root = repoRoot();
  readonly logDir: string;
  readonly indexDir: string;
  private pgSpec!: PostgresSpec;
  /** the index directory is a tmpfs of the run's own (disk-full may fill it) */
  tmpfs = false;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: StackOptions) {
    this.log = opts.log ?? (() => {});
    this.logDir = join(opts.home, 'logs');
    this.indexDir = join(opts.home, 'index');
    mkdirSync(this.logDir, { recursive: true });
    mkdirSync(this.indexDir, { recursive: true });
    // the launcher runs PostgreSQL as the postgres user when root: it must reach <home>/postgres
    chmodSync(opts.home, 0o755);
  }

  get databaseUrl(): string {
    return `postgres://feedlog@127.0.0.1:${this.ports.postgres}/feedlog`;
  }
  get registryUrl(): string {
    return `http://127.0.0.1:${this.ports.registry}`;
  }
  get apiBase(): string {
    return `http://127.0.0.1:${this.ports.api}`;
  }
  get brokers(): string {
    return this.cluster ? this.cluster.bootstrap.join(',') : loadConfig().kafka.brokers.join(',');
  }

  service(name: ProcessName): Service {
    const s = this.services.get(name);
    if (!s) throw new Error(`no ${name} process`);
    return s;
  }

  async start(): Promise<void> {
    const p = this.opts.ports ?? {};
    this.ports = {
      postgres: p.postgres ?? (await freePort()),
      registry: p.registry ?? (await freePort()),
      embedder: p.embedder ?? (await freePort()),
      api: p.api ?? (await freePort()),
      // 0: a free port per stage process (allocated as each is defined)
      stageBase: p.stageBase ?? 0,
    };
    this.pgSpec = { dir: join(this.opts.home, 'postgres'), port: this.ports.postgres };
    // a harness that dies leaves no database behind (stopPostgres runs pg_ctl synchronously)
    process.once('exit', () => void this.stopPostgres().catch(() => undefined));
    const t0 = performance.now();
    if (this.opts.indexTmpfsMb) {
      const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${this.opts.indexTmpfsMb}m`, 'tmpfs', this.indexDir], {
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`cannot mount a tmpfs on ${this.indexDir} (root needed): ${r.stderr}`);
      this.tmpfs = true;
      process.once('exit', () => void spawnSync('umount', [this.indexDir]));
    }
    if (this.opts.ownKafka) {
      this.cluster = new KafkaCluster(join(this.opts.home, 'kafka'), this.opts.ownKafka.port, this.log);
      await this.cluster.start();
      this.kafka = createKafka(loadConfig({ ...process.env, KAFKA_BROKERS: this.brokers }), {
        clientId: 'feedlog-chaos',
      });
    }
    await this.startPostgres();
    this.pool = new pg.Pool({ connectionString: this.databaseUrl, max: 4 });
    // a pool error while PostgreSQL is down must not kill the harness
    this.pool.on('error', () => undefined);
    await migrate(this.pool);
    this.apiKey = (await new PgApiKeyStore(this.pool).create('chaos', ['read', 'write'], 1_000_000)).key;
    this.embedder = new StubEmbedder(this.ports.embedder);
    await this.embedder.up();
    await this.define();
    await this.service('registry').start();
    await applyPrefixedTopics(this.kafka, this.prefix);
    await registerPrefixedSubjects(this.prefix, this.registryUrl);
    // stages start in parallel (tsx start-up is CPU-bound, but readiness waits are not)
    await Promise.all([...STAGES, 'materialize' as const, 'api' as const].map((n) => this.service(n).start()));
    this.log(`stack ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (prefix ${this.prefix})`);
  }

  async startPostgres(): Promise<void> {
    await startPostgres(this.pgSpec, this.log);
  }

  /** pg_ctl stop (fast): every connection is cut, as a database outage does. */
  async stopPostgres(): Promise<void> {
    await stopPostgres(this.pgSpec);
  }

  private baseEnv(): Record<string, string> {
    return {
      KAFKA_BROKERS: this.brokers,
      DATABASE_URL: this.databaseUrl,
      SCHEMA_REGISTRY_URL: this.registryUrl,
      SCHEMA_REGISTRY_PORT: String(this.ports.registry),
      EMBEDDING_BASE_URL: this.embedder.baseUrl,
      EMBEDDING_MODEL: 'chaos-stub',
      FEEDLOG_TOPIC_PREFIX: this.prefix,
      FEEDLOG_HOME: this.opts.home,
      INDEX_DIR: this.indexDir,
      STAGE_GENERATION: '1',
      METRICS_PORT: '',
      LOG_LEVEL: 'info',
    };
  }

  /** The spec of a stage instance: `n` 0 is the stack's own, n ≥ 1 an extra one (rebalance storm). */
  async stageSpec(stage: StageName | 'materialize', n = 0) {
    const i = STAGES.indexOf(stage as StageName) + 1 || 5;
    const port = this.ports.stageBase ? this.ports.stageBase + (n === 0 ? i : 10 * n + i) : await freePort();
    const env: Record<string, string> = {
      ...this.baseEnv(),
      STAGE_HEALTH_PORT: String(port),
      // kills are noticed sooner: the group rebalances after the session timeout
      STAGE_SESSION_TIMEOUT_MS: '6000',
    };
    if (stage !== 'classify' && stage !== 'materialize') env.INPUT_GENERATION = '1';
    if (stage === 'materialize') {
      Object.assign(env, {
        MATERIALIZE_GROUP: groupOf(this.prefix, 'materialize'),
        MATERIALIZE_MIGRATE: '0',
        MATERIALIZE_QUIET: '1',
        MATERIALIZE_SESSION_TIMEOUT_MS: '6000',
      });
    }
    return {
      name: n === 0 ? stage : `${stage}#${n}`,
      entry: `processors/${stage}/src/main.ts`,
      env,
      healthUrl: `http://127.0.0.1:${port}/readyz`,
    };
  }

  private async define(): Promise<void> {
    const add = (spec: ConstructorParameters<typeof Service>[0]) =>
      this.services.set(spec.name, new Service(spec, this.root, this.logDir));
    add({
      name: 'registry',
      entry: 'processors/registry/src/main.ts',
      env: this.baseEnv(),
      healthUrl: `${this.registryUrl}/subjects`,
    });
    for (const s of [...STAGES, 'materialize' as const]) add(await this.stageSpec(s));
    add({
      name: 'api',
      entry: 'api/src/server.ts',
      env: {
        ...this.baseEnv(),
        API_PORT: String(this.ports.api),
        API_MAX_BATCH: '1000',
        API_LAG_INTERVAL_MS: '60000',
      },
      healthUrl: `${this.apiBase}/healthz`,
    });
  }

  /** Start one more instance of a stage in the same group (rebalance storm). */
  async addInstance(stage: StageName, n: number): Promise<Service> {
    const s = new Service(await this.stageSpec(stage, n), this.root, this.logDir);
    this.extras.set(s.spec.name, s);
    await s.start();
    return s;
  }

  async stop(opts: { keepTopics?: boolean } = {}): Promise<void> {
    const all = [...this.extras.values(), ...this.services.values()];
    await Promise.all(all.map((s) => s.stop().catch(() => undefined)));
    for (const s of all) s.close();
    await this.embedder?.down();
    await this.pool?.end().catch(() => undefined);
    if (!opts.keepTopics) await deletePrefixedTopics(this.kafka, this.prefix).catch(() => undefined);
    if (this.pgSpec) await this.stopPostgres().catch(() => undefined);
    await this.cluster?.stop();
    if (this.tmpfs) spawnSync('umount', [this.indexDir]);
  }

  /** Remove the PostgreSQL data directory (the launcher may have put it under /var/tmp). */
  removeData(): void {
    if (this.pgSpec) rmSync(postgresDataDir(this.pgSpec), { recursive: true, force: true });
  }
}
