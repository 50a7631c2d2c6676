// The index stage process, and its maintenance commands.
//   tsx processors/index/src/main.ts                      run the stage (embedded → indexed)
//   tsx processors/index/src/main.ts rebuild [--drop] [--embed-generation M]
//                                                          rebuild generation STAGE_GENERATION from `embedded`
//   tsx processors/index/src/main.ts flip                  point INDEX_ALIAS at STAGE_GENERATION
//   tsx processors/index/src/main.ts status                aliases, generations and counts (JSON)
// Environment:
//   INDEX_BACKEND=embedded|qdrant (default embedded)   QDRANT_URL, QDRANT_API_KEY (qdrant)
//   STAGE_GENERATION (default 1)    INDEX_ALIAS (default headlines)   INDEX_ENGINE=usearch|hnswlib (embedded)
//   FEEDLOG_TOPIC_PREFIX (tests); the stage process's STAGE_HEALTH_PORT, METRICS_PORT… (runProcess of @feedlog/telemetry)
//   INPUT_GENERATION: index only `embedded` records of this embed generation (a replay sets it; default every record)
//   INDEX_SERVE_FIRST=false: never point the alias at this generation by itself (a replay's generation waits for the flip)
import { parseArgs } from 'node:util';
import { ConfigError } from '@feedlog/common/define-env';
import { onlyInputGeneration, runStage, subscribe } from '@feedlog/runtime';
import { runProcess } from '@feedlog/telemetry';
import { EmbeddedIndex } from './embedded.ts';
import { indexEnv } from './env.ts';
import { QdrantIndex } from './qdrant.ts';
import { rebuildFromTopic } from './rebuild.ts';
import { indexStage } from './stage.ts';
import type { VectorIndex } from './types.ts';

const say = (o: object) => process.stdout.write(`${JSON.stringify({ pid: process.pid, ...o })}\n`);

/** The index the environment names (see env.ts); `env` defaults to the process's. */
export function indexFromEnv(env?: NodeJS.ProcessEnv, readOnly = false): VectorIndex {
  const e = indexEnv.parse(env);
  if (e.INDEX_BACKEND === 'qdrant') {
    if (!e.QDRANT_URL) throw new ConfigError('invalid configuration: INDEX_BACKEND=qdrant needs QDRANT_URL');
    return new QdrantIndex({ url: e.QDRANT_URL, ...(e.QDRANT_API_KEY ? { apiKey: e.QDRANT_API_KEY } : {}) });
  }
  return new EmbeddedIndex({
    engine: e.INDEX_ENGINE,
    ...(e.INDEX_DIR ? { dir: e.INDEX_DIR } : {}),
    readOnly,
  });
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      drop: { type: 'boolean', default: false },
      'embed-generation': { type: 'string' },
    },
  });
  const command = positionals[0] ?? 'run';
  const env = indexEnv.parse();
  const generation = env.STAGE_GENERATION;
  const alias = env.INDEX_ALIAS;
  const prefix = env.FEEDLOG_TOPIC_PREFIX;

  if (command === 'status') {
    const index = indexFromEnv(undefined, true);
    const serving = await index.servingGeneration(alias);
    const gens = index instanceof EmbeddedIndex ? await index.generations() : [generation];
    const counts: Record<string, number> = {};
    for (const g of gens) counts[index.collectionName(g)] = await index.count(g).catch(() => -1);
    say({ backend: index.backend, alias, serving, counts });
    await index.close();
    return;
  }

  const index = indexFromEnv();
  if (command === 'flip') {
    await index.flipAlias(alias, generation);
    say({ event: 'flipped', alias, generation });
    await index.close();
    return;
  }
  if (command === 'rebuild') {
    const r = await rebuildFromTopic({
      index,
      generation,
      prefix,
      drop: values.drop ?? false,
      ...(values['embed-generation'] !== undefined ? { embedGeneration: Number(values['embed-generation']) } : {}),
      log: (line) => say({ event: 'progress', line }),
    });
    say({ event: 'rebuilt', generation, ...r });
    await index.close();
    return;
  }
  if (command !== 'run') throw new Error(`unknown command ${command} (run | rebuild | flip | status)`);

  // the stage process's life cycle (telemetry, health, shutdown with a deadline) is runProcess's
  runProcess('index', async () => {
    const stage = onlyInputGeneration(
      indexStage({ index, generation, prefix }),
      env.INPUT_GENERATION,
      (v) => v.embedding.run,
    );
    // first start of a fresh install: once the generation exists, serve it when no generation is
    // served yet (never moves an existing alias: flips after a replay are the replay's decision)
    let aliased = !env.INDEX_SERVE_FIRST || (await index.servingGeneration(alias).catch(() => undefined)) !== undefined;
    const serveFirst = async () => {
      if (aliased) return;
      aliased = true;
      if ((await index.servingGeneration(alias)) === undefined) await index.flipAlias(alias, generation);
      say({ event: 'alias', alias, generation });
    };
    subscribe('batch', (b) => {
      say({ event: 'batch', partition: b.partition, n: b.recordsIn, dlq: b.dlq });
      if (b.recordsOut > 0) serveFirst().catch(() => (aliased = false));
    });
    const running = await runStage(stage, { clientId: `feedlog-index-${process.pid}` });
    return {
      ...running,
      async stop() {
        await running.stop();
        await index.close();
      },
      describe: () => ({ groupId: running.groupId, input: stage.input.topic, backend: index.backend }),
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    // a usage or configuration mistake is one line; anything else keeps its stack
    const usage = /UsageError|ConfigError/.test((e as Error)?.name ?? '');
    process.stderr.write(`index: ${usage ? `${(e as Error).message}` : ((e as Error)?.stack ?? e)}\n`);
    process.exit(1);
  });
}
