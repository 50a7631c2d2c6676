import { z } from 'zod';
import { defineEnv } from './define-env.ts';
import { bool, int, list, oneOf, port, str, url } from './env-parsers.ts';

/**
 * The variables every feedlog process shares: where the stack is (client addresses and the
 * launcher's ports), the topic prefix, logging. `loadConfig` turns them into `FeedlogConfig`;
 * packages reuse single variables with `envVar(commonEnv, 'FEEDLOG_TOPIC_PREFIX')`.
 */
export const commonEnv = defineEnv('@feedlog/common', {
  FEEDLOG_HOME: {
    schema: str().optional(),
    default: '<repo>/.feedlog',
    doc: 'State of the local stack: data directories, logs, PID files.',
  },
  FEEDLOG_ROOT: {
    schema: str().optional(),
    default: 'the checkout',
    doc: 'Repository root; the CLI sets it for the processes it starts.',
  },
  FEEDLOG_CACHE: {
    schema: str().optional(),
    default: '${XDG_CACHE_HOME:-~/.cache}/feedlog',
    doc: 'Downloaded artifacts (Kafka jars, models), shared by clones so the second start is offline.',
  },
  XDG_CACHE_HOME: {
    schema: str().optional(),
    default: '~/.cache',
    doc: 'Base of FEEDLOG_CACHE when that is unset (the XDG convention).',
  },
  KAFKA_VERSION: {
    schema: str()
      .regex(/^\d+\.\d+\.\d+$/, 'expected a version like 3.9.2')
      .default('3.9.2'),
    doc: 'Apache Kafka version the local launcher fetches from Maven Central.',
  },
  KAFKA_PORT: {
    schema: port().default(9092),
    doc: 'Client port of the local broker (broker i of a cluster listens on KAFKA_PORT+i).',
  },
  KAFKA_CONTROLLER_PORT: {
    schema: port().optional(),
    default: 'KAFKA_PORT + 100',
    doc: 'KRaft controller port of the local broker (node i: +i).',
  },
  KAFKA_NODES: {
    schema: int({ min: 1, max: 9 }).default(1),
    doc: 'Brokers in the local KRaft cluster (`feedlog up --brokers 3`: node i on KAFKA_PORT+i, one controller quorum).',
  },
  KAFKA_HEAP: {
    schema: str()
      .regex(/^\d+[mMgG]$/, 'expected a heap size like 768m or 1g')
      .default('768m'),
    doc: 'Maximum heap of each local broker JVM.',
  },
  KAFKA_BROKERS: {
    schema: list({ pattern: /^[^:\s,]+:\d{1,5}$/, what: 'host:port' }).optional(),
    default: '127.0.0.1:${KAFKA_PORT}',
    emptyIsUnset: false,
    doc: 'Comma-separated bootstrap servers every client uses (with KAFKA_NODES > 1: every local node).',
  },
  KAFKA_CLIENT_ID: { schema: str().default('feedlog'), doc: 'Kafka client id prefix.' },
  POSTGRES_PORT: {
    schema: port().default(55432),
    doc: 'Port of the local PostgreSQL cluster (kept off 5432 so a system server does not collide).',
  },
  DATABASE_URL: {
    schema: url(['postgres', 'postgresql']).optional(),
    default: 'postgres://feedlog@127.0.0.1:${POSTGRES_PORT}/feedlog',
    emptyIsUnset: false,
    doc: 'PostgreSQL connection string (a password in it is never printed).',
  },
  SCHEMA_REGISTRY_PORT: { schema: port().default(8081), doc: 'Port of the local schema registry.' },
  SCHEMA_REGISTRY_URL: {
    schema: url().optional(),
    default: 'http://127.0.0.1:${SCHEMA_REGISTRY_PORT}',
    emptyIsUnset: false,
    doc: 'Confluent-compatible schema registry (ours, Confluent, Karapace, Apicurio).',
  },
  EMBEDDER_PORT: {
    schema: port().default(8090),
    doc: 'Port of the local OpenAI-compatible embedder (processors/embedder).',
  },
  EMBEDDING_BASE_URL: {
    schema: url().optional(),
    default: 'http://127.0.0.1:${EMBEDDER_PORT}/v1',
    doc: 'OpenAI-compatible endpoint the embed stage and search call (OpenAI, vLLM, TEI, Ollama, or ours).',
  },
  EMBEDDING_MODEL: {
    schema: str().default('all-MiniLM-L6-v2-int8'),
    deprecatedNames: ['EMBED_MODEL'],
    doc: 'Embedding model sent to the endpoint and written as run.model_name (embed stage, search, replays).',
  },
  STAGE_PORT_BASE: {
    schema: port().default(9300),
    doc: 'Local stage processes: health/readiness on base+1 (classify) … base+6 (poller), Prometheus /metrics on base+101 … base+106.',
  },
  API_PORT: { schema: port().default(8080), doc: 'Port of the HTTP API (api/).' },
  LOG_LEVEL: { schema: oneOf(['error', 'warn', 'info', 'debug']).default('info'), doc: 'error | warn | info | debug' },
  FEEDLOG_TOPIC_PREFIX: {
    schema: z
      .string()
      .regex(/^[A-Za-z0-9._-]*$/, 'expected letters, digits, ".", "_" or "-" (a topic-name prefix)')
      .default(''),
    deprecatedNames: ['TOPIC_PREFIX'],
    doc: 'Prefix of every topic (and consumer group) name: isolated deployments and tests.',
  },
  FEEDLOG_EVENT_LOOP_RESOLUTION_MS: {
    schema: int({ min: 1 }).default(1_000),
    doc: 'Sampling period of the event-loop delay metric (10 wakes an idle process 100 times a second).',
  },
  FEEDLOG_FETCH_MAX_WAIT_MS: {
    schema: int({ min: 1 }).optional(),
    doc: 'How long an idle fetch parks on the broker, over what the stage chose (benchmarks).',
  },
  FEEDLOG_KAFKAJS_IDLE_FIX: {
    schema: bool().default(true),
    doc: 'Patch kafkajs 2.2.4 so an idle client does not wake every few milliseconds (false: leave it).',
  },
  FEEDLOG_KAFKAJS_FAST_PRODUCE: {
    schema: bool().default(true),
    doc: "Replace kafkajs 2.2.4's record encoder and default partitioner with faster ones writing the same bytes and partitions (false: leave them).",
  },
});
