import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { LaunchError } from './errors.ts';
import { checkJava, ensureKafkaJars } from './maven.ts';
import { assertPortFree, readPid, removePid, spawnDetached, stopPid, waitFor, writePid } from './process.ts';

export interface KafkaClusterSpec {
  /** Directory holding this cluster's node folders (data, config, logs, PID files). */
  dir: string;
  cache: string;
  version: string;
  brokers: number;
  port: number;
  controllerPort: number;
  heap: string;
}

export interface KafkaNode {
  id: number;
  port: number;
  controllerPort: number;
  home: string;
  dataDir: string;
  propsFile: string;
  pidFile: string;
  logFile: string;
}

export function kafkaNodes(spec: KafkaClusterSpec): KafkaNode[] {
  return Array.from({ length: spec.brokers }, (_, i) => {
    const id = i + 1;
    const home = join(spec.dir, `node-${id}`);
    return {
      id,
      port: spec.port + i,
      controllerPort: spec.controllerPort + i,
      home,
      dataDir: join(home, 'data'),
      propsFile: join(home, 'server.properties'),
      pidFile: join(home, 'kafka.pid'),
      logFile: join(home, 'kafka.log'),
    };
  });
}

export function bootstrapServers(spec: KafkaClusterSpec): string[] {
  return kafkaNodes(spec).map((n) => `127.0.0.1:${n.port}`);
}

export function serverProperties(spec: KafkaClusterSpec, node: KafkaNode): string {
  const n = spec.brokers;
  const voters = kafkaNodes(spec)
    .map((v) => `${v.id}@127.0.0.1:${v.controllerPort}`)
    .join(',');
  const rf = Math.min(3, n);
  const minIsr = Math.min(2, n);
  return `# written by feedlog's launcher on every start; edit the launcher, not this file
process.roles=broker,controller
node.id=${node.id}
controller.quorum.voters=${voters}
listeners=PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${node.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${node.dataDir}
num.partitions=1
default.replication.factor=${rf}
min.insync.replicas=1
# topics are declared in topics/ and applied as code; a typo must not create a topic
auto.create.topics.enable=false
offsets.topic.replication.factor=${rf}
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=${rf}
transaction.state.log.min.isr=${minIsr}
transaction.state.log.num.partitions=12
# tests join groups constantly; the default 3 s delay would dominate their run time
group.initial.rebalance.delay.ms=0
unclean.leader.election.enable=false
`;
}

const LOG4J = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
`;

function java(lib: string, args: string[]): { ok: boolean; stdout: string; out: string } {
  // The tools log through log4j too; without a config it prints warnings into what we parse.
  const quiet = '-Dlog4j.configuration=data:,log4j.rootLogger=OFF';
  const r = spawnSync('java', [quiet, '-cp', join(lib, '*'), ...args], { encoding: 'utf8' });
  return { ok: r.status === 0, stdout: r.stdout ?? '', out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function clusterId(spec: KafkaClusterSpec, lib: string): string {
  const file = join(spec.dir, 'cluster.id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const r = java(lib, ['kafka.tools.StorageTool', 'random-uuid']);
  const id = r.stdout
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /^[A-Za-z0-9_-]{22}$/.test(l));
  if (!r.ok || !id) throw new LaunchError(`kafka-storage random-uuid failed:\n${r.out}`);
  mkdirSync(spec.dir, { recursive: true });
  writeFileSync(file, `${id}\n`);
  return id;
}

/** Writes configs and formats KRaft storage for every node that has none yet. Returns the classpath dir. */
export function prepareKafka(spec: KafkaClusterSpec, log: (s: string) => void): string {
  checkJava();
  const lib = ensureKafkaJars(spec.cache, spec.version, log);
  const id = clusterId(spec, lib);
  for (const node of kafkaNodes(spec)) {
    mkdirSync(node.home, { recursive: true });
    writeFileSync(node.propsFile, serverProperties(spec, node));
    writeFileSync(join(node.home, 'log4j.properties'), LOG4J);
    if (existsSync(join(node.dataDir, 'meta.properties'))) continue;
    log(`formatting KRaft storage for node ${node.id} (cluster ${id})`);
    const r = java(lib, ['kafka.tools.StorageTool', 'format', '-t', id, '-c', node.propsFile, '--ignore-formatted']);
    if (!r.ok) throw new LaunchError(`formatting Kafka storage of node ${node.id} failed:\n${r.out.slice(-2000)}`);
  }
  return lib;
}

export type NodeStatus = { node: KafkaNode; state: 'running' | 'stopped'; pid?: number };

export function nodeStatus(node: KafkaNode): NodeStatus {
  const s = readPid(node.pidFile, node.propsFile);
  if (s.state === 'running') return { node, state: 'running', pid: s.pid };
  return { node, state: 'stopped' };
}

/** Starts one node (no-op when it already runs). Cleans a stale PID file. Does not wait for readiness. */
export async function startKafkaNode(
  spec: KafkaClusterSpec,
  lib: string,
  id: number,
  log: (s: string) => void,
): Promise<'started' | 'already-running'> {
  const node = kafkaNodes(spec).find((n) => n.id === id);
  if (!node) throw new LaunchError(`no Kafka node ${id} in a ${spec.brokers}-node cluster`);
  const s = readPid(node.pidFile, node.propsFile);
  if (s.state === 'running') return 'already-running';
  if (s.state === 'stale') {
    log(`removing stale PID file of Kafka node ${id} (pid ${s.pid} is gone)`);
    removePid(node.pidFile);
  }
  await assertPortFree(node.port, `Kafka node ${id}`);
  await assertPortFree(node.controllerPort, `Kafka controller ${id}`);
  const pid = spawnDetached(
    'java',
    [
      `-Xmx${spec.heap}`,
      '-Xms128m',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:TieredStopAtLevel=1',
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${join(node.home, 'log4j.properties')}`,
      `-Dkafka.logs.dir=${node.home}`,
      '-cp',
      join(lib, '*'),
      'kafka.Kafka',
      node.propsFile,
    ],
    node.logFile,
  );
  writePid(node.pidFile, pid);
  return 'started';
}

export async function stopKafkaNode(spec: KafkaClusterSpec, id: number, signal: 'TERM' | 'KILL' = 'TERM') {
  const node = kafkaNodes(spec).find((n) => n.id === id);
  if (!node) throw new LaunchError(`no Kafka node ${id}`);
  const s = readPid(node.pidFile, node.propsFile);
  removePid(node.pidFile);
  if (s.state !== 'running') return 'not-running' as const;
  if (signal === 'KILL') {
    process.kill(s.pid, 'SIGKILL');
    return stopPid(s.pid, 10_000);
  }
  return stopPid(s.pid, 30_000);
}

/** Waits until the cluster answers metadata requests with `expect` brokers registered. */
export async function waitKafkaReady(brokers: string[], expect: number, timeoutMs = 120_000): Promise<void> {
  const kafka = new Kafka({
    clientId: 'feedlog-launcher',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1_000,
  });
  await waitFor(
    `Kafka (${brokers.join(',')})`,
    async () => {
      const admin = kafka.admin();
      try {
        await admin.connect();
        const c = await admin.describeCluster();
        return c.brokers.length >= expect && c.controller !== null ? true : undefined;
      } finally {
        await admin.disconnect().catch(() => {});
      }
    },
    { timeoutMs, intervalMs: 300 },
  );
}

/** Starts every node of the cluster and waits until all are registered. */
export async function startKafkaCluster(spec: KafkaClusterSpec, log: (s: string) => void) {
  const lib = prepareKafka(spec, log);
  const results = [];
  for (const n of kafkaNodes(spec)) results.push(await startKafkaNode(spec, lib, n.id, log));
  try {
    await waitKafkaReady(bootstrapServers(spec), spec.brokers);
  } catch (e) {
    const tail = kafkaNodes(spec)
      .map((n) => (existsSync(n.logFile) ? readFileSync(n.logFile, 'utf8').split('\n').slice(-15).join('\n') : ''))
      .join('\n');
    throw new LaunchError(`${(e as Error).message}; last broker log lines:\n${tail}`);
  }
  return { lib, started: results.filter((r) => r === 'started').length };
}

export async function stopKafkaCluster(spec: KafkaClusterSpec) {
  // All at once: stopped one by one, the last nodes of a quorum lose their controller and
  // wait out the controlled-shutdown timeout.
  return Promise.all(kafkaNodes(spec).map(async (n) => ({ id: n.id, result: await stopKafkaNode(spec, n.id) })));
}
