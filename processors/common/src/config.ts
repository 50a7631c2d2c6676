import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * Every environment variable feedlog reads, with its default and meaning.
 * This table is the single source for `loadConfig`, for README's configuration section
 * (`feedlog config --docs`) and for the test that keeps docker-compose.kafka.yml in step.
 */
export const envSpec = {
  FEEDLOG_HOME: { default: '<repo>/.feedlog', doc: 'State of the local stack: data directories, logs, PID files.' },
  FEEDLOG_CACHE: {
    default: '~/.cache/feedlog',
    doc: 'Downloaded artifacts (Kafka jars, models), shared by clones so the second start is offline.',
  },
  KAFKA_VERSION: { default: '3.9.2', doc: 'Apache Kafka version the local launcher fetches from Maven Central.' },
  KAFKA_PORT: {
    default: '9092',
    doc: 'Client port of the local broker (broker i of a cluster listens on KAFKA_PORT+i).',
  },
  KAFKA_CONTROLLER_PORT: {
    default: 'KAFKA_PORT + 100',
    doc: 'KRaft controller port of the local broker (node i: +i).',
  },
  KAFKA_NODES: {
    default: '1',
    doc: 'Brokers in the local KRaft cluster (`feedlog up --brokers 3`: node i on KAFKA_PORT+i, one controller quorum).',
  },
  KAFKA_HEAP: { default: '768m', doc: 'Maximum heap of each local broker JVM.' },
  KAFKA_BROKERS: {
    default: '127.0.0.1:${KAFKA_PORT}',
    doc: 'Comma-separated bootstrap servers every client uses (with KAFKA_NODES > 1: every local node).',
  },
  KAFKA_CLIENT_ID: { default: 'feedlog', doc: 'Kafka client id prefix.' },
  POSTGRES_PORT: {
    default: '55432',
    doc: 'Port of the local PostgreSQL cluster (kept off 5432 so a system server does not collide).',
  },
  DATABASE_URL: {
    default: 'postgres://feedlog@127.0.0.1:${POSTGRES_PORT}/feedlog',
    doc: 'PostgreSQL connection string.',
  },
  SCHEMA_REGISTRY_PORT: { default: '8081', doc: 'Port of the local schema registry.' },
  SCHEMA_REGISTRY_URL: {
    default: 'http://127.0.0.1:${SCHEMA_REGISTRY_PORT}',
    doc: 'Confluent-compatible schema registry (ours, Confluent, Karapace, Apicurio).',
  },
  EMBEDDER_PORT: { default: '8090', doc: 'Port of the local OpenAI-compatible embedder (processors/embedder).' },
  EMBEDDING_BASE_URL: {
    default: 'http://127.0.0.1:${EMBEDDER_PORT}/v1',
    doc: 'OpenAI-compatible endpoint the embed stage and search call (OpenAI, vLLM, TEI, Ollama, or ours).',
  },
  STAGE_PORT_BASE: {
    default: '9300',
    doc: 'Local stage processes: health/readiness on base+1 (classify) … base+4 (index), Prometheus /metrics on base+101 … base+104.',
  },
  API_PORT: { default: '8080', doc: 'Port of the HTTP API (api/).' },
  LOG_LEVEL: { default: 'info', doc: 'error | warn | info | debug' },
} as const satisfies Record<string, { default: string; doc: string }>;

export type EnvName = keyof typeof envSpec;

const port = z.coerce.number().int().min(1).max(65535);

const schema = z.object({
  home: z.string().min(1),
  cache: z.string().min(1),
  kafka: z.object({
    version: z.string().regex(/^\d+\.\d+\.\d+$/, 'KAFKA_VERSION must look like 3.9.2'),
    port,
    controllerPort: port,
    heap: z.string().regex(/^\d+[mMgG]$/, 'KAFKA_HEAP must look like 768m or 1g'),
    nodes: z.coerce.number().int().min(1).max(9),
    brokers: z.array(z.string().regex(/^[^:\s]+:\d+$/, 'each broker must be host:port')).min(1),
    clientId: z.string().min(1),
  }),
  postgres: z.object({ port, url: z.string().url() }),
  registry: z.object({ port, url: z.string().url() }),
  embedder: z.object({ port, baseUrl: z.string().url() }),
  api: z.object({ port }),
  stagePortBase: port,
  logLevel: z.enum(['error', 'warn', 'info', 'debug']),
});

export type FeedlogConfig = z.infer<typeof schema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly retriable = false;
}

/** The repository root: FEEDLOG_ROOT when the CLI set it, else two levels above this package. */
export function repoRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.FEEDLOG_ROOT ?? resolve(import.meta.dirname, '../../..');
}

/** Every node of the local cluster: 127.0.0.1:port … port+nodes-1. */
function localBrokers(port: string, nodes: string): string {
  const p = Number(port);
  const n = Number(nodes);
  if (!Number.isInteger(p) || !Number.isInteger(n) || n < 1) return `127.0.0.1:${port}`;
  return Array.from({ length: n }, (_, i) => `127.0.0.1:${p + i}`).join(',');
}

/** Read and validate configuration once; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): FeedlogConfig {
  const get = (name: EnvName): string => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    return envSpec[name].default.replace(/\$\{(\w+)\}/g, (_, n: string) => get(n as EnvName));
  };
  const home = env.FEEDLOG_HOME || join(repoRoot(env), '.feedlog');
  const cache = env.FEEDLOG_CACHE || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'feedlog');
  const parsed = schema.safeParse({
    home,
    cache,
    kafka: {
      version: get('KAFKA_VERSION'),
      port: get('KAFKA_PORT'),
      controllerPort: env.KAFKA_CONTROLLER_PORT || String(Number(get('KAFKA_PORT')) + 100),
      heap: get('KAFKA_HEAP'),
      nodes: get('KAFKA_NODES'),
      brokers: (env.KAFKA_BROKERS ? get('KAFKA_BROKERS') : localBrokers(get('KAFKA_PORT'), get('KAFKA_NODES')))
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      clientId: get('KAFKA_CLIENT_ID'),
    },
    postgres: { port: get('POSTGRES_PORT'), url: get('DATABASE_URL') },
    registry: { port: get('SCHEMA_REGISTRY_PORT'), url: get('SCHEMA_REGISTRY_URL') },
    embedder: { port: get('EMBEDDER_PORT'), baseUrl: get('EMBEDDING_BASE_URL') },
    api: { port: get('API_PORT') },
    stagePortBase: get('STAGE_PORT_BASE'),
    logLevel: get('LOG_LEVEL'),
  });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
