import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { commonEnv, loadConfig, repoRoot } from '@feedlog/common';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Service {
  image: string;
  ports?: string[];
  environment?: Record<string, string | number>;
}
interface Compose {
  services: Record<string, Service>;
  'x-feedlog-env': Record<string, string>;
}

const compose = parse(readFileSync(join(repoRoot(), 'docker-compose.kafka.yml'), 'utf8'), { merge: true }) as Compose;
const defaults = loadConfig({ FEEDLOG_ROOT: '/r' }); // launcher defaults, whatever this shell exports
const hostPorts = (s: Service | undefined) =>
  (s?.ports ?? []).map((p) => {
    const parts = p.split(':');
    return { host: Number(parts.at(-2)), container: Number(parts.at(-1)), bind: parts.length === 3 ? parts[0] : '' };
  });

describe('docker-compose.kafka.yml is in step with the local launcher', () => {
  it('has the services a user with Docker needs', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'kafka',
      'otel-lgtm',
      'postgres',
      'qdrant',
      'schema-registry',
    ]);
  });

  it('runs the Kafka version the launcher pins, on the same client and controller ports', () => {
    const k = compose.services.kafka;
    expect(k?.image).toBe(`apache/kafka:${defaults.kafka.version}`);
    expect(hostPorts(k)).toContainEqual({
      host: defaults.kafka.port,
      container: defaults.kafka.port,
      bind: '127.0.0.1',
    });
    expect(String(k?.environment?.KAFKA_ADVERTISED_LISTENERS)).toContain(`EXTERNAL://127.0.0.1:${defaults.kafka.port}`);
    expect(String(k?.environment?.KAFKA_CONTROLLER_QUORUM_VOTERS)).toBe(`1@kafka:${defaults.kafka.controllerPort}`);
    expect(String(k?.environment?.KAFKA_AUTO_CREATE_TOPICS_ENABLE)).toBe('false');
    expect(Number(k?.environment?.KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS)).toBe(0);
  });

  it('publishes PostgreSQL and the registry where the launcher puts them, on loopback only', () => {
    expect(hostPorts(compose.services.postgres)).toContainEqual({
      host: defaults.postgres.port,
      container: 5432,
      bind: '127.0.0.1',
    });
    const url = new URL(defaults.postgres.url);
    expect(compose.services.postgres?.environment?.POSTGRES_USER).toBe(url.username);
    expect(compose.services.postgres?.environment?.POSTGRES_DB).toBe(url.pathname.slice(1));
    expect(hostPorts(compose.services['schema-registry'])).toContainEqual({
      host: defaults.registry.port,
      container: 8081,
      bind: '127.0.0.1',
    });
    for (const s of Object.values(compose.services)) for (const p of hostPorts(s)) expect(p.bind).toBe('127.0.0.1');
  });

  it('documents exactly the client variables feedlog reads, with the launcher default values', () => {
    const env = compose['x-feedlog-env'];
    for (const name of Object.keys(env)) expect(commonEnv.vars.map((v) => v.name)).toContain(name);
    expect(env.KAFKA_BROKERS).toBe(defaults.kafka.brokers.join(','));
    expect(env.DATABASE_URL).toBe(defaults.postgres.url);
    expect(env.SCHEMA_REGISTRY_URL).toBe(defaults.registry.url);
  });
});
