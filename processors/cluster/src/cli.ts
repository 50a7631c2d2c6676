import { existsSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { MinHashClusterer } from './baseline.ts';
import { loadUciCsv } from './dataset.ts';
import { openEmbedder } from './embedder.ts';
import { evaluateSearch, loadSearchSet } from './eval-search.ts';
import { type EvalReport, evaluateStream } from './evaluate.ts';
import { SEMANTIC_PRESET } from './semantic.ts';
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
  /** run the semantic method (SEMANTIC_PRESET unless thresholds are given) with these title vectors */
  vectors?: ArrayLike<number>[];
  semanticWeight?: number;
  decayHours?: number;
}

export interface ClusterEvalResult {
  data: string;
  options: ClusterOptions;
  results: EvalReport[];
}

/** Replays a UCI-format CSV in timestamp order through the clusterer (and optionally the baseline). */
export function runClusterEval(o: ClusterEvalOptions): ClusterEvalResult {
  const rows0 = loadUciCsv(o.data);
  const rows = o.vectors ? rows0.map((r, i) => ({ ...r, vector: o.vectors![i]! })) : rows0;
  const options: ClusterOptions = {
    ...DEFAULT_OPTIONS,
    ...(o.vectors ? SEMANTIC_PRESET : {}),
    ...(o.semanticWeight !== undefined && { semanticWeight: o.semanticWeight }),
    ...(o.decayHours !== undefined && { decayHours: o.decayHours }),
    ...(o.windowHours !== undefined && { windowMs: o.windowHours * 3600_000 }),
    ...(o.threshold !== undefined && { threshold: o.threshold }),
    ...(o.seedThreshold !== undefined && { seedThreshold: o.seedThreshold }),
    ...(o.idf !== undefined && { idf: o.idf }),
    ...(o.useCategory !== undefined && { useCategory: o.useCategory }),
  };
  const method = options.semanticWeight > 0 ? 'tfidf+embedding' : 'tfidf-centroid';
  const results = [evaluateStream(method, () => new ClusterState(options), rows)];
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
    `options: window ${o.windowMs / 3600_000} h, threshold ${o.threshold}, seed threshold ${o.seedThreshold}, idf ${o.idf}, bigrams ${o.bigrams}, use category ${o.useCategory}, semantic weight ${o.semanticWeight}, decay ${o.decayHours} h`,
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
  ].join('\n');
}

/** The titles of a UCI-format CSV through the configured embedder (and its cache), in file-sorted order. */
async function embedTitles(data: string): Promise<ArrayLike<number>[]> {
  const e = await openEmbedder({ log: (m) => process.stderr.write(`${m}\n`) });
  try {
    const titles = loadUciCsv(data).map((r) => r.title);
    const vectors: ArrayLike<number>[] = [];
    for (let i = 0; i < titles.length; i += 512) {
      const r = await e.client.embed(titles.slice(i, i + 512));
      for (const v of r.results) vectors.push(v instanceof Error ? [] : v.vector);
      process.stderr.write(`embedded ${Math.min(i + 512, titles.length)}/${titles.length}\r`);
    }
    process.stderr.write('\n');
    return vectors;
  } finally {
    await e.close();
  }
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
    .option(
      '--semantic',
      `embed the titles (EMBEDDING_BASE_URL, EMBEDDING_MODEL, cached) and combine meaning with words (defaults: weight ${SEMANTIC_PRESET.semanticWeight}, threshold ${SEMANTIC_PRESET.threshold}, seed ${SEMANTIC_PRESET.seedThreshold}, decay ${SEMANTIC_PRESET.decayHours} h)`,
    )
    .option('--semantic-weight <w>', 'weight of the semantic cosine (with --semantic)', num('semantic weight', 0, 1))
    .option('--decay-hours <h>', 'time decay of a story score, 0 = none (with --semantic)', num('decay', 0, 1e6))
    .action((opts: Omit<ClusterEvalOptions, 'data'> & { data: string; semantic?: boolean }, cmd: Command) => {
      if (!existsSync(opts.data)) cmd.error(`data file not found: ${opts.data}`);
      const print = (vectors?: ArrayLike<number>[]) => {
        const r = runClusterEval({ ...opts, ...(vectors ? { vectors } : {}) });
        write(opts.json ? `${JSON.stringify(r, null, 2)}\n` : formatClusterEval(r));
      };
      if (!opts.semantic) return print();
      return embedTitles(opts.data).then(print);
    });
  evalCmd
    .command('search')
    .description(
      'score embedding search: recall@k and MRR on STS-B headline pairs (TSV) or same-story headlines (UCI CSV)',
    )
    .requiredOption('--data <file>', 'sts-headlines-dev.tsv or a UCI-format CSV')
    .option('--k <k>', 'cut-off for recall', num('k', 1, 1000), 10)
    .option('--min-score <s>', 'STS pairs: a pair at or above this score is relevant', num('min score', 0, 5), 4)
    .option('--model <name>', 'embedding model (default EMBEDDING_MODEL)')
    .option('--json', 'print JSON instead of a table')
    .action(
      async (opts: { data: string; k: number; minScore: number; model?: string; json?: boolean }, cmd: Command) => {
        if (!existsSync(opts.data)) cmd.error(`data file not found: ${opts.data}`);
        let set: ReturnType<typeof loadSearchSet>;
        try {
          set = loadSearchSet(opts.data, opts.minScore);
        } catch (e) {
          cmd.error((e as Error).message);
        }
        const e = await openEmbedder({ ...(opts.model ? { model: opts.model } : {}) });
        try {
          const r = { data: opts.data, cache: e.cache, ...(await evaluateSearch(set, e.client, opts.k)) };
          if (opts.json) write(`${JSON.stringify(r, null, 2)}\n`);
          else
            write(
              `${[
                `data: ${r.data} (${r.format}), model ${r.model}, cache ${r.cache}`,
                `queries ${r.queries}, corpus ${r.corpus}`,
                `recall@${r.k} ${r.recallAtK.toFixed(3)}   MRR ${r.mrr.toFixed(3)}`,
              ].join('\n')}\n`,
            );
        } finally {
          await e.close();
        }
      },
    );
  return program;
}
