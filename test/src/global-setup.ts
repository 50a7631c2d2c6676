import { spawnSync } from 'node:child_process';
import { loadConfig } from '@feedlog/common';

/**
 * Where the integration tests get their real Kafka, PostgreSQL and schema registry, in order:
 *  1. KAFKA_BROKERS + DATABASE_URL (+ SCHEMA_REGISTRY_URL) from the environment;
 *  2. testcontainers, when a Docker engine answers;
 *  3. the project's own local launcher (`feedlog up`), which fetches Kafka from Maven Central.
 * Every path ends with a schema registry: without SCHEMA_REGISTRY_URL the project's own registry
 * is started against DATABASE_URL on a free port, so no suite can skip for want of one (the
 * skip guard, test/src/skip-guard.ts, fails the run on any skip not on its allow-list).
 * Only what this setup started is stopped afterwards (FEEDLOG_KEEP_STACK=1 keeps it for reruns).
 */
const teardowns: (() => Promise<void>)[] = [];

function dockerAnswers(): boolean {
  const r = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'ignore', timeout: 5_000 });
  return r.status === 0;
}

// Workers are forked after this runs, so the variables set here reach every test file.
export default async function setup(): Promise<() => Promise<void>> {
  const log = (s: string) => process.stderr.write(`[test stack] ${s}\n`);
  if (process.env.KAFKA_BROKERS && process.env.DATABASE_URL) {
    log(`using KAFKA_BROKERS=${process.env.KAFKA_BROKERS} and DATABASE_URL from the environment`);
  } else if (dockerAnswers()) {
    log('a Docker engine answers: starting Kafka and PostgreSQL with testcontainers');
    const { startContainers } = await import('./containers.ts');
    const c = await startContainers();
    Object.assign(process.env, c.env);
    teardowns.push(c.stop);
  } else {
    log('no KAFKA_BROKERS and no Docker engine: starting the local stack with the project launcher');
    const { stackUp, stackDown } = await import('@feedlog/scripts/stack');
    const config = loadConfig();
    // The infrastructure only: tests run their own stage instances on prefixed topics, so idle
    // copies of the pipeline would just compete for the two cores.
    const report = await stackUp(config, log, ['postgres', 'kafka', 'registry', 'embedder']);
    for (const r of report) log(`${r.component}: ${r.result}${r.seconds ? ` in ${r.seconds.toFixed(1)} s` : ''}`);
    const started = report.filter((r) => r.result === 'started').map((r) => r.component);
    process.env.KAFKA_BROKERS = config.kafka.brokers.join(',');
    process.env.DATABASE_URL = config.postgres.url;
    const running = (name: string) => report.some((r) => r.component === name && r.result !== 'skipped');
    if (running('registry')) process.env.SCHEMA_REGISTRY_URL = config.registry.url;
    if (running('embedder')) process.env.EMBEDDING_BASE_URL = config.embedder.baseUrl;
    if (started.length && process.env.FEEDLOG_KEEP_STACK !== '1')
      teardowns.push(async () => void (await stackDown(config, started)));
  }
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error('the test stack has no DATABASE_URL');
  if (process.env.SCHEMA_REGISTRY_URL) {
    const url = process.env.SCHEMA_REGISTRY_URL;
    const ok = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(5_000) })
      .then((r) => r.ok)
      .catch(() => false);
    // a registry named but not answering is a broken stack, not a reason to skip suites
    if (!ok) throw new Error(`SCHEMA_REGISTRY_URL=${url} does not answer GET /subjects`);
    log(`using SCHEMA_REGISTRY_URL=${url}`);
  } else {
    log('no SCHEMA_REGISTRY_URL: starting the project registry against DATABASE_URL');
    const { startRegistry } = await import('./registry.ts');
    const registry = await startRegistry(databaseUrl, log);
    process.env.SCHEMA_REGISTRY_URL = registry.url;
    // stopped before the database it stores into (teardowns run last-first)
    teardowns.push(registry.stop);
  }
  // Kafka's own tools (the reference for lag and offset-reset figures) are fetched once here,
  // not inside a test's timeout.
  const { ensureKafkaTools } = await import('@feedlog/scripts/launch/kafka-tools');
  const config = loadConfig();
  ensureKafkaTools(config.cache, config.kafka.version, log);
  return async () => {
    for (const t of teardowns.reverse()) await t();
  };
}
