import { statSync } from 'node:fs';
import Table from 'cli-table3';
import { type Command, Option } from 'commander';
import { DATA_FORMATS, type DataFormat, type Dataset, loadDataset } from './data.ts';
import { openClassifyEmbedder, trainFusedCommand } from './fused-cli.ts';
import { DEFAULT_MIN_CLASS_EXAMPLES, thinClasses } from './guard.ts';
import type { Metrics } from './metrics.ts';
import {
  type Candidate,
  DEFAULT_CANDIDATES,
  describeCandidate,
  type TrainText,
  trainClassifier,
  writeModel,
} from './train.ts';
import { METHODS, type Method } from './trainers.ts';

export const DEFAULT_MODEL_OUT = '.feedlog/models/classify.flcm';
/** where `train classify --embeddings` writes when --out is not given */
export const DEFAULT_FUSED_OUT = '.feedlog/models/classify.flcf';

interface TrainClassifyOpts {
  data: string;
  format?: DataFormat;
  out: string;
  name?: string;
  splitByStory?: boolean;
  seed: number;
  holdout: number;
  method?: Method;
  folds: number;
  refit: boolean;
  trainText: TrainText;
  json?: boolean;
  minClassExamples: number;
  force?: boolean;
  embeddings?: boolean;
  embeddingModel?: string;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const log = (line: string) => process.stderr.write(`feedlog train classify: ${line}\n`);

function metricsTable(title: string, m: Metrics): string {
  const t = new Table({ head: [title, 'precision', 'recall', 'F1', 'support'], style: { head: [], border: [] } });
  for (const c of m.perClass) t.push([c.label, pct(c.precision), pct(c.recall), pct(c.f1), String(c.support)]);
  t.push(['accuracy', '', '', pct(m.accuracy), String(m.n)]);
  t.push([`macro-F1 (all ${m.perClass.length} classes)`, '', '', pct(m.macroF1), String(m.n)]);
  if (m.perClass.some((c) => c.support === 0))
    t.push(['macro-F1 (classes in the hold-out only)', '', '', pct(m.macroF1Present), String(m.n)]);
  return `${t.toString()}\n${confusionTable(m)}`;
}

/** rows = true class, columns = predicted class */
export function confusionTable(m: Metrics): string {
  const labels = m.perClass.map((c) => c.label);
  const t = new Table({ head: ['true \\ predicted', ...labels], style: { head: [], border: [] } });
  m.confusion.forEach((row, i) => {
    t.push([labels[i]!, ...row.map(String)]);
  });
  return t.toString();
}

/** Adds `train classify` to a commander program (reuses an existing `train` command if there is one). */
export function registerClassifyCommands(program: Command): Command {
  const train =
    program.commands.find((c) => c.name() === 'train') ??
    program.command('train').description('train the models of the pipeline stages');
  train
    .command('classify')
    .description('train the headline classifier into a versioned model artifact and print its held-out metrics')
    .requiredOption(
      '--data <file>',
      'labelled data: AG News csv, UCI News Aggregator csv, HuffPost jsonl or csv with a header',
    )
    .addOption(
      new Option('--format <format>', 'data format (default: detected from the file)').choices([...DATA_FORMATS]),
    )
    .option('--out <path>', 'where to write the model artifact', DEFAULT_MODEL_OUT)
    .option('--name <name>', 'model name recorded in the artifact (default feedlog-classify-<format>)')
    .option('--split-by-story', 'hold out whole stories (UCI STORY column); default when the data has stories')
    .option('--no-split-by-story', 'split by row even when the data has stories')
    .option('--seed <n>', 'seed for the split, folds and SGD', (v) => Number.parseInt(v, 10), 42)
    .option('--holdout <fraction>', 'fraction held out for the reported metrics (0 = none)', Number.parseFloat, 0.2)
    .addOption(new Option('--method <method>', 'skip model selection and train this method').choices([...METHODS]))
    .option('--folds <k>', 'cross-validation folds for model selection', (v) => Number.parseInt(v, 10), 3)
    .option('--no-refit', 'ship the model trained on the training part instead of refitting on all rows')
    .addOption(
      new Option('--train-text <mode>', 'full = title+summary; title = title only; both = rows with a summary twice')
        .choices(['full', 'title', 'both'])
        .default('both'),
    )
    .option('--json', 'machine-readable result on stdout (progress stays on stderr)')
    .option(
      '--min-class-examples <n>',
      'refuse a class with fewer rows (or, split by story, fewer than 2 stories); 0 = no check',
      (v) => Number.parseInt(v, 10),
      DEFAULT_MIN_CLASS_EXAMPLES,
    )
    .option('--force', 'train even when a class is too thin (same as --min-class-examples 0)')
    .option(
      '--embeddings',
      'train the fused classifier (n-gram + head on sentence embeddings + kNN) into a .flcf artifact; needs the embedder (EMBEDDING_BASE_URL)',
    )
    .option('--embedding-model <id>', 'embedding model of the fused classifier (default EMBEDDING_MODEL)')
    .action(async (opts: TrainClassifyOpts, cmd: Command) => {
      const t0 = performance.now();
      if (!(opts.holdout >= 0 && opts.holdout < 1)) throw new RangeError('--holdout must be in [0, 1)');
      if (!Number.isInteger(opts.seed)) throw new RangeError('--seed must be an integer');
      const ds = loadDataset(opts.data, opts.format);
      if (opts.splitByStory === true && !ds.examples.some((e) => e.group)) {
        throw new RangeError(`--split-by-story: ${opts.data} has no story/group column`);
      }
      if (!(Number.isInteger(opts.minClassExamples) && opts.minClassExamples >= 0))
        cmd.error('--min-class-examples must be an integer ≥ 0');
      const byGroup = opts.splitByStory ?? ds.examples.some((e) => e.group !== undefined);
      const thin = opts.force ? [] : thinClasses(ds, opts.minClassExamples, byGroup && opts.holdout > 0);
      if (thin.length > 0) {
        cmd.error(
          [
            `refusing to train: ${thin.length} class(es) too thin to learn or to score honestly:`,
            ...thin.map((c) => `  ${c.label}: ${c.reason}`),
            'add labelled rows (from more stories), drop the class, or pass --force / --min-class-examples 0',
          ].join('\n'),
        );
      }
      let candidates: Candidate[] = DEFAULT_CANDIDATES;
      if (opts.method) {
        candidates = [DEFAULT_CANDIDATES.find((c) => c.method === opts.method) ?? { method: opts.method }];
      }
      if (opts.embeddings) {
        await trainFusedAction(ds, opts, candidates, byGroup);
        return;
      }
      const r = trainClassifier(ds, {
        ...(opts.name ? { name: opts.name } : {}),
        seed: opts.seed,
        holdout: opts.holdout,
        ...(opts.splitByStory !== undefined ? { splitByGroup: opts.splitByStory } : {}),
        candidates,
        folds: opts.folds,
        refit: opts.refit,
        trainText: opts.trainText,
        log,
      });
      const header = writeModel(opts.out, r);
      const bytes = statSync(opts.out).size;
      const seconds = (performance.now() - t0) / 1000;
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ artifact: opts.out, bytes, seconds, header, holdout: r.holdout ?? null }, null, 2)}\n`,
        );
        return;
      }
      const out: string[] = [];
      if (r.selection.length) {
        const t = new Table({
          head: ['candidate (CV on the training part)', 'accuracy', 'macro-F1', 'seconds'],
          style: { head: [], border: [] },
        });
        for (const s of r.selection) {
          t.push([
            `${s.candidate === r.chosen ? '* ' : '  '}${describeCandidate(s.candidate)}`,
            pct(s.cvAccuracy),
            pct(s.cvMacroF1),
            (s.ms / 1000).toFixed(1),
          ]);
        }
        out.push(t.toString());
      }
      if (r.holdout) {
        out.push(`hold-out (${r.split.kind}; ${r.split.train} train / ${r.split.test} test rows):`);
        out.push(metricsTable('title + summary', r.holdout.full));
        if (r.holdout.ece !== undefined)
          out.push(`expected calibration error (15 bins, title + summary): ${pct(r.holdout.ece)}`);
        if (r.holdout.titleOnly) out.push(metricsTable('title only', r.holdout.titleOnly));
        const rps = header.metrics.holdout?.recordsPerSec;
        if (rps)
          out.push(`throughput: ${Math.round(rps).toLocaleString('en-US')} records/s (single core, featurise + score)`);
      }
      const t = new Table({ style: { head: [], border: [] } });
      t.push(
        { artifact: opts.out },
        { name: header.name },
        { version: header.version },
        { method: describeCandidate(r.chosen) },
        { labels: header.labels.join(', ') },
        { 'trained on': `${header.training.trainedOnRows} rows` },
        { size: `${(bytes / 1024).toFixed(0)} KiB (${header.weights.rows} non-zero buckets of ${header.weights.dim})` },
        { seconds: seconds.toFixed(1) },
      );
      out.push(t.toString());
      process.stdout.write(`${out.join('\n')}\n`);
    });
  return train;
}

async function trainFusedAction(ds: Dataset, opts: TrainClassifyOpts, candidates: Candidate[], byGroup: boolean) {
  const out = opts.out === DEFAULT_MODEL_OUT ? DEFAULT_FUSED_OUT : opts.out;
  const e = await openClassifyEmbedder(opts.embeddingModel, log);
  try {
    const r = await trainFusedCommand(ds, {
      out,
      embed: e.embed,
      embeddingModel: e.model,
      holdout: opts.holdout,
      seed: opts.seed,
      byGroup,
      refit: opts.refit,
      candidates,
      ...(opts.name ? { name: opts.name } : {}),
      log,
    });
    const { header } = r.model;
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ artifact: r.artifact, bytes: r.bytes, seconds: r.seconds, header, split: r.split, holdout: r.holdout ?? null }, null, 2)}\n`,
      );
      return;
    }
    const lines: string[] = [];
    if (r.holdout) {
      const h = r.holdout;
      lines.push(`hold-out (${r.split.kind}; ${r.split.train} train / ${r.split.test} test rows):`);
      lines.push(metricsTable('fused, title + summary', h.full));
      lines.push(`expected calibration error (15 bins): fused ${pct(h.ece)}, n-gram member alone ${pct(h.ngram.ece)}`);
      lines.push(
        `n-gram member alone: accuracy ${pct(h.ngram.full.accuracy)}, macro-F1 ${pct(h.ngram.full.macroF1)}${h.ngram.titleOnly ? `; title only ${pct(h.ngram.titleOnly.accuracy)}` : ''}`,
      );
      if (h.titleOnly) lines.push(metricsTable('fused, title only', h.titleOnly));
    }
    const f = header.fusion;
    const t = new Table({ style: { head: [], border: [] } });
    t.push(
      { artifact: r.artifact },
      { name: header.name },
      { version: header.version },
      { embedding: `${header.embedding.model} (${header.embedding.dims} dims)` },
      {
        fusion: `n-gram ${f.weights[0]} · head ${f.weights[1]} · kNN(${header.knn.k}) ${f.weights[2]}, T ${f.temperature} (${f.chosenBy})`,
      },
      { labels: header.labels.join(', ') },
      { 'trained on': `${header.training.trainedOnRows} rows` },
      { size: `${(r.bytes / 1024 / 1024).toFixed(1)} MiB` },
      { seconds: r.seconds.toFixed(1) },
    );
    lines.push(t.toString());
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await e.close();
  }
}
