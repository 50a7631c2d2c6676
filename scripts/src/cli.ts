import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  ConfigError,
  CsvFileError,
  deprecatedEnvChannel,
  type FeedlogConfig,
  loadConfig,
  repoRoot,
} from '@feedlog/common';
import { Command, Option } from 'commander';
import { registerConfigCommand } from './config-command.ts';
import { runKafkaDemo } from './demo.ts';
import { LaunchError } from './launch/errors.ts';
import { log, printRows } from './output.ts';
import { stackComponents, stackDown, stackStatus, stackUp } from './stack.ts';

// a deprecated variable name: one line on stderr (defineEnv publishes it once per name)
deprecatedEnvChannel.subscribe((m) => log(`warning: ${(m as { message: string }).message}`));

// `feedlog --version`: the project's version and the Node it runs on (bin/feedlog picks Node 24 from
// node_modules), answered before the package commands are imported.
if (process.argv[2] === '--version' || process.argv[2] === '-V') {
  const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
  process.stdout.write(`feedlog ${version}\nnode ${process.version}\n`);
  process.exit(0);
}

const program = new Command('feedlog')
  .description('feedlog: a replayable, measured news pipeline on Apache Kafka')
  .showHelpAfterError();

// Launcher options apply to every command (up, down, status…), so the same flags address the
// same stack; they are written to the environment before the configuration is read once.
program
  .option('--home <dir>', 'state directory of the local stack (FEEDLOG_HOME)')
  .option('--kafka-port <port>', 'client port of the local broker; node i of a cluster uses port+i (KAFKA_PORT)')
  .option('--brokers <n>', 'brokers in the local KRaft cluster, e.g. 3 (KAFKA_NODES)')
  .hook('preAction', () => {
    const o = program.opts<{ home?: string; kafkaPort?: string; brokers?: string }>();
    if (o.home) process.env.FEEDLOG_HOME = o.home;
    if (o.kafkaPort) process.env.KAFKA_PORT = o.kafkaPort;
    if (o.brokers) process.env.KAFKA_NODES = o.brokers;
  });

let cached: FeedlogConfig | undefined;
const config = () => {
  cached ??= loadConfig();
  return cached;
};
const jsonOpt = new Option('--json', 'machine-readable output on stdout');
const onlyOpt = new Option('--only <components>', 'comma-separated subset, e.g. kafka,postgres').argParser((v) =>
  v.split(','),
);

program
  .command('up')
  .description('start the local stack (idempotent): PostgreSQL, Kafka, registry and the services present')
  .addOption(onlyOpt)
  .addOption(jsonOpt)
  .action(async (opts: { only?: string[]; json?: boolean }) => {
    const t0 = performance.now();
    const rows = await stackUp(config(), log, opts.only);
    const total = (performance.now() - t0) / 1000;
    printRows(
      rows.map((r) => ({ ...r, seconds: Number(r.seconds.toFixed(2)) })),
      opts,
    );
    if (!opts.json) {
      const c = config();
      process.stdout.write(
        `time to ready: ${total.toFixed(1)} s\nKAFKA_BROKERS=${c.kafka.brokers.join(',')}\nDATABASE_URL=${c.postgres.url}\nSCHEMA_REGISTRY_URL=${c.registry.url}\nEMBEDDING_BASE_URL=${c.embedder.baseUrl}\n`,
      );
    }
  });

program
  .command('down')
  .description('stop what `up` started (by PID file); nothing else is touched')
  .addOption(onlyOpt)
  .addOption(jsonOpt)
  .action(async (opts: { only?: string[]; json?: boolean }) => {
    printRows(await stackDown(config(), opts.only), opts);
  });

program
  .command('status')
  .description('each component, its address, PID and whether it answers')
  .addOption(jsonOpt)
  .action(async (opts: { json?: boolean }) => {
    const rows = await stackStatus(config());
    printRows(rows, opts, ['component', 'address', 'pid', 'state', 'detail']);
    const absent = stackComponents(config()).filter((c) => !c.available());
    if (!opts.json && absent.length) log(`not built yet: ${absent.map((c) => c.name).join(', ')}`);
  });

program
  .command('demo')
  .description(
    'start the stack, then the main job: real headlines through every stage, then search, printing what happened',
  )
  .option('-n, --count <n>', 'messages for the Kafka round-trip check', (v) => Number.parseInt(v, 10), 5_000)
  .option('--limit <n>', 'push only the first n headlines', (v) => Number.parseInt(v, 10))
  .addOption(jsonOpt)
  .action(async (opts: { count: number; limit?: number; json?: boolean }) => {
    const up = await stackUp(config(), log);
    if (!opts.json)
      printRows(
        up.map((r) => ({ ...r, seconds: Number(r.seconds.toFixed(2)) })),
        {},
      );
    const kafka = await runKafkaDemo(config(), log, opts.count);
    if (kafka.consumed !== kafka.produced || kafka.keysOutOfOrder !== 0) {
      throw new LaunchError(
        `Kafka check failed: ${kafka.consumed}/${kafka.produced} consumed, ${kafka.keysOutOfOrder} out of order`,
      );
    }
    log(
      `Kafka round trip: ${kafka.consumed}/${kafka.produced} keyed messages back in order over ${kafka.partitions} partitions`,
    );
    const { runPipelineDemo } = await import('./pipeline-demo.ts');
    const r = await runPipelineDemo(config(), log, opts.limit === undefined ? {} : { limit: opts.limit });
    const { perStage, ...rest } = r;
    printRows([{ ...rest, ...Object.fromEntries(Object.entries(perStage).map(([k, v]) => [`stage ${k}`, v])) }], opts);
    if (r.perStage.index !== r.accepted - r.failures) {
      throw new LaunchError(`demo check failed: ${r.perStage.index} of ${r.accepted} items indexed`);
    }
  });

registerConfigCommand(program, config);

// Each package owns its subcommands; this file only assembles them. They are imported only when
// named (or for help), so `feedlog status` does not load the API, the models and native indexes.
type Register = (p: Command) => unknown;
const packageCommands: Record<string, () => Promise<Register>> = {
  topics: async () => (await import('@feedlog/topics/cli')).registerTopicCommands,
  schemas: async () => (await import('@feedlog/schemas/cli')).registerSchemaCommands,
  train: async () => (await import('@feedlog/classify/cli')).registerClassifyCommands,
  eval: async () => {
    const [cluster, classify] = await Promise.all([
      import('@feedlog/cluster/cli'),
      import('@feedlog/classify/eval-cli'),
    ]);
    return (p: Command) => [cluster.registerClusterCommands(p), classify.registerClassifyEval(p)];
  },
  apikey: async () => (await import('@feedlog/api/cli')).registerApiCommands,
  serve: async () => (await import('@feedlog/api/cli')).registerApiCommands,
  produce: async () => (await import('@feedlog/sdk/cli')).registerProduceCommand,
  migrate: async () => (await import('@feedlog/migrations/cli')).registerMigrateCommands,
  'reset-offsets': async () => (await import('@feedlog/offsets/cli')).registerResetOffsetsCommand,
  lag: async () => (await import('@feedlog/lag/cli')).registerLagCommand,
  tail: async () => (await import('@feedlog/ops/cli')).registerOpsCommands,
  item: async () => (await import('@feedlog/ops/cli')).registerOpsCommands,
  feeds: async () => (await import('@feedlog/poller/cli')).registerFeedCommands,
  replay: async () => (await import('@feedlog/replay/cli')).registerReplayCommands,
  generations: async () => (await import('@feedlog/replay/cli')).registerReplayCommands,
  gc: async () => (await import('@feedlog/replay/cli')).registerReplayCommands,
  // the chaos suite lives with the test helpers (test/chaos); a path import keeps scripts free of a test dependency
  chaos: async () =>
    ((await import(join(repoRoot(), 'test/chaos/cli.ts'))) as { registerChaosCommand: Register }).registerChaosCommand,
  bench: async () => (await import('@feedlog/bench/cli')).registerBenchCommands,
};
const named = process.argv[2];
const wanted =
  named && named in packageCommands
    ? [named]
    : named && !named.startsWith('-') && named !== 'help'
      ? []
      : Object.keys(packageCommands);
const registered = new Set<Register>();
for (const name of wanted) {
  const register = await packageCommands[name]!();
  if (!registered.has(register)) register(program);
  registered.add(register);
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof LaunchError || e instanceof ConfigError || e instanceof CsvFileError) {
    process.stderr.write(`feedlog: error: ${e.message}\n`);
    if (e instanceof LaunchError && e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
    process.exit(1);
  }
  throw e;
}
