import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LaunchError } from './errors.ts';
import { type KafkaClusterSpec, kafkaNodes, serverProperties } from './kafka.ts';
import { ensureKafkaJars } from './maven.ts';
import { assertPortFree, readPid, writePid } from './process.ts';

const spec = (over: Partial<KafkaClusterSpec> = {}): KafkaClusterSpec => ({
  dir: '/tmp/feedlog-spec',
  cache: '/tmp/feedlog-cache',
  version: '3.9.2',
  brokers: 3,
  port: 29092,
  controllerPort: 29192,
  heap: '256m',
  ...over,
});

const prop = (text: string, key: string) => new RegExp(`^${key.replaceAll('.', '\\.')}=(.*)$`, 'm').exec(text)?.[1];

describe('server.properties of a three-node cluster', () => {
  const nodes = kafkaNodes(spec());
  const props = nodes.map((n) => serverProperties(spec(), n));

  it('gives every node its own id, ports and data dir, and one controller quorum', () => {
    expect(props.map((p) => prop(p, 'node.id'))).toEqual(['1', '2', '3']);
    expect(new Set(props.map((p) => prop(p, 'listeners'))).size).toBe(3);
    expect(new Set(props.map((p) => prop(p, 'log.dirs'))).size).toBe(3);
    expect(new Set(props.map((p) => prop(p, 'controller.quorum.voters')))).toEqual(
      new Set(['1@127.0.0.1:29192,2@127.0.0.1:29193,3@127.0.0.1:29194']),
    );
    expect(prop(props[1] ?? '', 'advertised.listeners')).toBe('PLAINTEXT://127.0.0.1:29093');
  });

  it('replicates internal topics three ways with min ISR 2, and only once on a single node', () => {
    expect(prop(props[0] ?? '', 'transaction.state.log.replication.factor')).toBe('3');
    expect(prop(props[0] ?? '', 'transaction.state.log.min.isr')).toBe('2');
    const single = serverProperties(spec({ brokers: 1 }), kafkaNodes(spec({ brokers: 1 }))[0]!);
    expect(prop(single, 'offsets.topic.replication.factor')).toBe('1');
    expect(prop(single, 'transaction.state.log.min.isr')).toBe('1');
    expect(prop(single, 'group.initial.rebalance.delay.ms')).toBe('0');
  });
});

describe('PID files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'feedlog-pid-'));

  it('reports a PID file whose process is gone as stale', () => {
    const f = join(dir, 'gone.pid');
    writeFileSync(f, '999999999\n');
    expect(readPid(f, 'anything')).toEqual({ state: 'stale', pid: 999999999 });
  });

  it('does not take a recycled PID running something else for ours', () => {
    const f = join(dir, 'other.pid');
    writePid(f, process.pid);
    expect(readPid(f, 'kafka.Kafka /no/such/server.properties').state).toBe('stale');
    const own = readFileSync(`/proc/${process.pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    expect(readPid(f, own)).toEqual({ state: 'running', pid: process.pid });
  });

  it('reports a missing PID file as absent', () => {
    expect(readPid(join(dir, 'none.pid'), 'x')).toEqual({ state: 'absent' });
  });
});

describe('port checks', () => {
  it('names the process that holds a port', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const err = await assertPortFree(port, 'a test broker').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LaunchError);
      expect((err as Error).message).toContain(`port ${port}`);
      expect((err as Error).message).toContain(`pid ${process.pid}`);
    } finally {
      srv.close();
    }
  });
});

describe('Maven fetch errors', () => {
  const saved = { PATH: process.env.PATH, MAVEN_OPTS: process.env.MAVEN_OPTS };
  afterEach(() => {
    process.env.PATH = saved.PATH;
    if (saved.MAVEN_OPTS === undefined) delete process.env.MAVEN_OPTS;
    else process.env.MAVEN_OPTS = saved.MAVEN_OPTS;
  });

  it('says how to install Maven when it is missing', () => {
    process.env.PATH = mkdtempSync(join(tmpdir(), 'feedlog-nopath-'));
    const cache = mkdtempSync(join(tmpdir(), 'feedlog-cache-'));
    expect(() => ensureKafkaJars(cache, '3.9.2', () => {})).toThrowError(/Maven is not installed/);
  });

  it('says the registry is unreachable when Maven cannot download', () => {
    const cache = mkdtempSync(join(tmpdir(), 'feedlog-cache-'));
    // an empty local repository and a proxy that refuses: exactly what a machine without access sees
    process.env.MAVEN_OPTS = `-Dmaven.repo.local=${join(cache, 'm2')} -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=9 -Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=9`;
    let err: unknown;
    try {
      ensureKafkaJars(cache, '3.9.2', () => {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LaunchError);
    expect((err as LaunchError).message).toMatch(/registry is unreachable/);
    expect((err as LaunchError).retriable).toBe(true);
  }, 60_000);
});
