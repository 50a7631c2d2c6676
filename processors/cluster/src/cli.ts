import { existsSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { MinHashClusterer } from './baseline.ts';
import { loadUciCsv } from './dataset.ts';
import { type EvalReport, evaluateStream } from './evaluate.ts';
import { type ClusterOptions, ClusterState, DEFAULT_OPTIONS, type IdfMode } from './state.ts';

export interface ClusterEvalOptions {
  data: string;
  json?: boolean;
  windowHours?: number;
  threshold?: number;
  seedThreshold?: number;
  idf?: IdfMode;
  useCategory?: boolean;
  baseline?: boolean;
}

export interface ClusterEvalResult {
  data: string;
  options: ClusterOptions;
  results: EvalReport[];
}

/** Replays a UCI-format CSV in timestamp order through the clusterer (and optionally the baseline). */
export function runClusterEval(o: ClusterEvalOptions): ClusterEvalResult {
  const rows = loadUciCsv(o.data);
  const options: ClusterOptions = {
    ...DEFAULT_OPTIONS,
    ...(o.windowHours !== undefined && { windowMs: o.windowHours * 3600_000 }),
    ...(o.threshold !== undefined && { threshold: o.threshold }),
    ...(o.seedThreshold !== undefined && { seedThreshold: o.seedThreshold }),
    ...(o.idf !== undefined && { idf: o.idf }),
    ...(o.useCategory !== undefined && { useCategory: o.useCategory }),
  };
  const results = [evaluateStream('tfidf-centroid', () => new ClusterState(options), rows)];
  if (o.baseline) {
    results.push(evaluateStream('minhash-lsh', () => new MinHashClusterer({ windowMs: options.windowMs }), rows));
  }
  return { data: o.data, options, results };
}

export function formatClusterEval(r: ClusterEvalResult): string {
  const f = (x: number) => x.toFixed(3);
  const head = [
    'method',
    'records',
    'stories',
    'gold',
    'pw-P',
    'pw-R',
    'pw-F1',
    'B3-P',
    'B3-R',
    'B3-F1',
    'ARI',
    'rec/s',
  ];
  const body = r.results.map((x) => [
    x.method,
    String(x.records),
    String(x.predictedClusters),
    String(x.goldClusters),
    f(x.pairwise.precision),
    f(x.pairwise.recall),
    f(x.pairwise.f1),
    f(x.bcubed.precision),
    f(x.bcubed.recall),
    f(x.bcubed.f1),
    f(x.ari),
    String(Math.round(x.recordsPerSecond)),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const o = r.options;
  return [
    `data: ${r.data} (timestamp order)`,
    `options: window ${o.windowMs / 3600_000} h, threshold ${o.threshold}, seed threshold ${o.seedThreshold}, idf ${o.idf}, bigrams ${o.bigrams}, use category ${o.useCategory}`,
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
  ].join('\n');
}

const num = (name: string, min: number, max: number) => (v: string) => {
  const x = Number(v);
  if (!Number.isFinite(x) || x < min || x > max)
    throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}]`);
  return x;
};

/** Adds `eval cluster --data <file> [--json]` to a commander program (reusing an existing `eval`). */
export function registerClusterCommands(
  program: Command,
  write: (s: string) => void = (s) => process.stdout.write(s),
): Command {
  const evalCmd =
    program.commands.find((c) => c.name() === 'eval') ?? program.command('eval').description('measure a stage');
  evalCmd
    .command('cluster')
    .description('replay a UCI-format CSV (ID,TITLE,…,STORY,…,TIMESTAMP) in timestamp order and score story clustering')
    .requiredOption('--data <file>', 'CSV file, e.g. ../shared/data/uci/stories-dev.csv')
    .option('--json', 'print JSON instead of a table')
    .option(
      '--window-hours <h>',
      `story ageing window (default ${DEFAULT_OPTIONS.windowMs / 3600_000})`,
      num('window', 1e-6, 1e6),
    )
    .option(
      '--threshold <x>',
      `cosine to join a large story (default ${DEFAULT_OPTIONS.threshold})`,
      num('threshold', 0, 1),
    )
    .option(
      '--seed-threshold <x>',
      `cosine to join a one-item story (default ${DEFAULT_OPTIONS.seedThreshold})`,
      num('seed threshold', 0, 1),
    )
    .addOption(
      new Option('--idf <mode>', `streaming idf (default ${DEFAULT_OPTIONS.idf})`).choices(['story', 'item', 'none']),
    )
    .option('--use-category', 'never join across the CATEGORY column (an upstream classifier output)')
    .option('--baseline', 'also run the MinHash-LSH near-duplicate baseline')
    .action((opts: Omit<ClusterEvalOptions, 'data'> & { data: string }, cmd: Command) => {
      if (!existsSync(opts.data)) cmd.error(`data file not found: ${opts.data}`);
      const r = runClusterEval(opts);
      write(opts.json ? `${JSON.stringify(r, null, 2)}\n` : formatClusterEval(r));
    });
  return program;
}
