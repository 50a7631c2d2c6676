import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, envVar, readEnvVar } from './define-env.ts';
import { commonEnv } from './env.ts';

export { ConfigError } from './define-env.ts';

/** The shared configuration, parsed from `commonEnv` (see env.ts) with the derived defaults filled in. */
export interface FeedlogConfig {
  home: string;
  cache: string;
  kafka: {
    version: string;
    port: number;
    controllerPort: number;
    heap: string;
    nodes: number;
    brokers: string[];
    clientId: string;
  };
  postgres: { port: number; url: string };
  registry: { port: number; url: string };
  embedder: { port: number; baseUrl: string };
  api: { port: number };
  stagePortBase: number;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  /** FEEDLOG_TOPIC_PREFIX (old name TOPIC_PREFIX) */
  topicPrefix: string;
}

/** The repository root: FEEDLOG_ROOT when the CLI set it, else two levels above this package. */
export function repoRoot(env?: NodeJS.ProcessEnv): string {
  return readEnvVar(envVar(commonEnv, 'FEEDLOG_ROOT'), env) ?? resolve(import.meta.dirname, '../../..');
}

/** Read and validate configuration once; throws ConfigError naming every bad variable. */
export function loadConfig(env?: NodeJS.ProcessEnv): FeedlogConfig {
  const e = commonEnv.parse(env);
  const controllerPort = e.KAFKA_CONTROLLER_PORT ?? e.KAFKA_PORT + 100;
  if (controllerPort > 65535)
    throw new ConfigError(
      `invalid configuration: KAFKA_CONTROLLER_PORT (KAFKA_PORT + 100 = ${controllerPort}) > 65535`,
      [{ name: 'KAFKA_CONTROLLER_PORT', message: 'out of range' }],
    );
  return {
    home: e.FEEDLOG_HOME ?? join(repoRoot(env), '.feedlog'),
    cache: e.FEEDLOG_CACHE ?? join(e.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'feedlog'),
    kafka: {
      version: e.KAFKA_VERSION,
      port: e.KAFKA_PORT,
      controllerPort,
      heap: e.KAFKA_HEAP,
      nodes: e.KAFKA_NODES,
      // every node of the local cluster: 127.0.0.1:port … port+nodes-1
      brokers: e.KAFKA_BROKERS ?? Array.from({ length: e.KAFKA_NODES }, (_, i) => `127.0.0.1:${e.KAFKA_PORT + i}`),
      clientId: e.KAFKA_CLIENT_ID,
    },
    postgres: {
      port: e.POSTGRES_PORT,
      url: e.DATABASE_URL ?? `postgres://feedlog@127.0.0.1:${e.POSTGRES_PORT}/feedlog`,
    },
    registry: {
      port: e.SCHEMA_REGISTRY_PORT,
      url: e.SCHEMA_REGISTRY_URL ?? `http://127.0.0.1:${e.SCHEMA_REGISTRY_PORT}`,
    },
    embedder: { port: e.EMBEDDER_PORT, baseUrl: e.EMBEDDING_BASE_URL ?? `http://127.0.0.1:${e.EMBEDDER_PORT}/v1` },
    api: { port: e.API_PORT },
    stagePortBase: e.STAGE_PORT_BASE,
    logLevel: e.LOG_LEVEL,
    topicPrefix: e.FEEDLOG_TOPIC_PREFIX,
  };
}
