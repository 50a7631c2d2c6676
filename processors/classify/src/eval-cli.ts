import { existsSync } from 'node:fs';
import Table from 'cli-table3';
import { type Command, Option } from 'commander';
import { confusionTable, DEFAULT_MODEL_OUT } from './cli.ts';
import { DATA_FORMATS, type DataFormat, loadDataset, textOf } from './data.ts';
import { openClassifyEmbedder, rowEmbeddingText } from './fused-cli.ts';
import type { EmbedTexts } from './fused-model.ts';
import { type AnyClassifyModel, isFused, loadAnyClassifyModel } from './load-any.ts';
import { evaluate, expectedCalibrationError, type Metrics } from './metrics.ts';
import { loadModel } from './model.ts';

export interface ClassifyEval {
  data: string;
  model: string;
  version: string;
  text: 'full' | 'title';
  metrics: Metrics;
  /** expected calibration error of the confidences (15 bins) */
  ece: number;
  /** labels of the data the model does not know (their rows count as errors) */
  unknownLabels: Record<string, number>;
}

/** Scores a trained model artifact on a labelled file (any format `train classify` reads). */
export function evaluateClassifier(o: {
  data: string;
  model: string;
  format?: DataFormat;
  titleOnly?: boolean;
}): ClassifyEval {
  const model = loadModel(o.model);
  const ds = loadDataset(o.data, o.format);
  return score(
    o,
    model,
    ds,
    ds.examples.map((e) => model.predictOne(textOf(e, !o.titleOnly))),
  );
}

/**
 * Either artifact type: a fused model gets the rows' vectors from `embedder(model)` (the stages'
 * client + cache, for the embedding model the artifact names).
 */
export async function evaluateAnyClassifier(
  o: { data: string; model: string; format?: DataFormat; titleOnly?: boolean },
  embedder: (embeddingModel: string) => Promise<{ embed: EmbedTexts; close: () => Promise<void> }> = (m) =>
    openClassifyEmbedder(m, () => {}),
): Promise<ClassifyEval> {
  const model: AnyClassifyModel = loadAnyClassifyModel(o.model);
  const ds = loadDataset(o.data, o.format);
  if (!isFused(model))
    return score(
      o,
      model,
      ds,
      ds.examples.map((e) => model.predictOne(textOf(e, !o.titleOnly))),
    );
  const e = await embedder(model.embeddingModel);
  try {
    const vectors = await e.embed(ds.examples.map((x) => rowEmbeddingText(x, !o.titleOnly)));
    return score(
      o,
      model,
      ds,
      model.predictWithVectors(
        ds.examples.map((x) => textOf(x, !o.titleOnly)),
        vectors,
      ),
    );
  } finally {
    await e.close();
  }
}

function score(
  o: { data: string; model: string; titleOnly?: boolean },
  model: AnyClassifyModel,
  ds: ReturnType<typeof loadDataset>,
  predictions: readonly { category: string; confidence: number }[],
): ClassifyEval {
  const labels = [...model.labels];
  const unknownLabels: Record<string, number> = {};
  for (const e of ds.examples) {
    if (!labels.includes(e.label)) {
      unknownLabels[e.label] = (unknownLabels[e.label] ?? 0) + 1;
      labels.push(e.label);
    }
  }
  const index = new Map(labels.map((l, i) => [l, i]));
  const truth: number[] = [];
  const pred: number[] = [];
  const conf: number[] = [];
  const ok: boolean[] = [];
  for (const [i, e] of ds.examples.entries()) {
    const p = predictions[i]!;
    truth.push(index.get(e.label)!);
    pred.push(index.get(p.category)!);
    conf.push(p.confidence);
    ok.push(p.category === e.label);
  }
  return {
    data: o.data,
    model: o.model,
    version: model.version,
    text: o.titleOnly ? 'title' : 'full',
    metrics: evaluate(truth, pred, labels),
    ece: expectedCalibrationError(conf, ok),
    unknownLabels,
  };
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/** Adds `eval classify --data <file> [--model <artifact>] [--json]`. */
export function registerClassifyEval(program: Command, write: (s: string) => void = (s) => process.stdout.write(s)) {
  const evalCmd =
    program.commands.find((c) => c.name() === 'eval') ?? program.command('eval').description('measure a stage');
  evalCmd
    .command('classify')
    .description(
      'score a trained classifier artifact on a labelled file: accuracy, macro-F1 over all classes, confusion, ECE',
    )
    .requiredOption('--data <file>', 'AG News csv, UCI csv, HuffPost jsonl or csv with a header')
    .addOption(new Option('--format <format>', 'data format (default: detected)').choices([...DATA_FORMATS]))
    .option(
      '--model <path>',
      'model artifact: n-gram .flcm or fused .flcf (asks the embedder, EMBEDDING_BASE_URL)',
      DEFAULT_MODEL_OUT,
    )
    .option('--title-only', 'score on titles alone (as most feeds give no summary)')
    .option('--json', 'print JSON instead of tables')
    .action(
      async (
        opts: { data: string; format?: DataFormat; model: string; titleOnly?: boolean; json?: boolean },
        cmd: Command,
      ) => {
        if (!existsSync(opts.data)) cmd.error(`data file not found: ${opts.data}`);
        if (!existsSync(opts.model))
          cmd.error(`model artifact not found: ${opts.model} (train one with \`feedlog train classify\`)`);
        const r = await evaluateAnyClassifier(opts);
        if (opts.json) {
          write(`${JSON.stringify(r, null, 2)}\n`);
          return;
        }
        const m = r.metrics;
        const t = new Table({
          head: ['class', 'precision', 'recall', 'F1', 'support'],
          style: { head: [], border: [] },
        });
        for (const c of m.perClass) t.push([c.label, pct(c.precision), pct(c.recall), pct(c.f1), String(c.support)]);
        t.push(['accuracy', '', '', pct(m.accuracy), String(m.n)]);
        t.push([`macro-F1 (all ${m.perClass.length} classes)`, '', '', pct(m.macroF1), String(m.n)]);
        t.push(['expected calibration error', '', '', pct(r.ece), String(m.n)]);
        const unknown = Object.entries(r.unknownLabels);
        write(
          [
            `data: ${r.data} (${r.text} text); model ${r.model} ${r.version}`,
            ...(unknown.length
              ? [
                  `labels the model does not know (scored as errors): ${unknown.map(([l, n]) => `${l} (${n})`).join(', ')}`,
                ]
              : []),
            t.toString(),
            confusionTable(m),
            '',
          ].join('\n'),
        );
      },
    );
  return program;
}
