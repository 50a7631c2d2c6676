// onnxruntime session settings of the local embedder, measured side by side (issue 14): length
// buckets, graph optimisation level, intra/inter-op threads, execution mode, spinning, one session
// vs two, and other ONNX files of the same model (fp32 weights, int8 dynamic quantisation).
//
//   npx tsx bench/embedder-options.ts [--model all-MiniLM-L6-v2-int8] [--seconds 1.5] [--rounds 3]
//       [--batch 1,16,64] [--only label,label] [--variant label=path/to/model.onnx ...]
//
// Every configuration is loaded once (its sessions on worker threads, as the service runs them);
// then, per batch size, the configurations take turns `rounds` times and the median is printed, so
// load from other processes hits every row alike. A configuration with S sessions gets S calls in
// flight. `--variant` adds rows running the default settings on another ONNX file of the same model
// (same tokenizer, output and pooling), e.g. one made by bench/embedder-variants.py.
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL, ensureModel, type OnnxModelOptions, OnnxSentenceModel } from '@feedlog/embedder';
import {
  loadHeadlines,
  MINILM_L3,
  MINILM_L6,
  macsPerHeadline,
  measure,
  median,
  peakFlops,
} from './lib/embedder-load.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: DEFAULT_MODEL },
    seconds: { type: 'string', default: '1.5' },
    rounds: { type: 'string', default: '3' },
    n: { type: 'string', default: '256' },
    batch: { type: 'string', default: '1,16,64' },
    only: { type: 'string' },
    variant: { type: 'string', multiple: true, default: [] },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const batchSizes = values.batch.split(',').map(Number);

/** Two single-threaded sessions (the layout before issue 14), graph 'all', buckets of 16. */
const DEFAULT: OnnxModelOptions = { sessions: 2, intraOpThreads: 1 };
const configs: { label: string; opts: OnnxModelOptions; onnx?: string }[] = [
  { label: '2x1 no buckets (before)', opts: { ...DEFAULT, bucketRows: 0 } },
  { label: '2x1 buckets 16', opts: DEFAULT },
  { label: '2x1 buckets 8', opts: { ...DEFAULT, bucketRows: 8 } },
  { label: '2x1 buckets 32', opts: { ...DEFAULT, bucketRows: 32 } },
  { label: '2x1 graph extended', opts: { ...DEFAULT, graphOptimizationLevel: 'extended' } },
  { label: '2x1 graph basic', opts: { ...DEFAULT, graphOptimizationLevel: 'basic' } },
  { label: '2x1 graph disabled', opts: { ...DEFAULT, graphOptimizationLevel: 'disabled' } },
  { label: '1x2 buckets 16 spin off (default)', opts: { sessions: 1, intraOpThreads: 2 } },
  { label: '1x2 spin on', opts: { sessions: 1, intraOpThreads: 2, allowSpinning: true } },
  {
    label: '1x2 parallel inter 2',
    opts: { sessions: 1, intraOpThreads: 2, interOpThreads: 2, executionMode: 'parallel' },
  },
  { label: '1x1 (one core)', opts: { sessions: 1, intraOpThreads: 1 } },
  ...values.variant.map((v) => {
    const [label, onnx] = v.split('=') as [string, string];
    if (!onnx) throw new Error(`--variant wants label=path, got '${v}'`);
    return { label: `2x1 ${label}`, opts: DEFAULT, onnx };
  }),
];
const only = values.only?.split(',');
const chosen = only ? configs.filter((c) => only.includes(c.label)) : configs;

const files = await ensureModel(values.model);
const { texts, csvPath } = loadHeadlines(Number(values.n));
const loaded: { label: string; model: OnnxSentenceModel; loadMs: number }[] = [];
for (const c of chosen) {
  const t0 = performance.now();
  const model = await OnnxSentenceModel.load(c.onnx ? { ...files, onnx: c.onnx } : files, c.opts);
  loaded.push({ label: c.label, model, loadMs: performance.now() - t0 });
}
const tokenizer = loaded[0]!.model.tokenizer;
const lengths = texts.map((t) => tokenizer.encode(t).length);
const shape = files.spec.name.includes('L3') ? MINILM_L3 : MINILM_L6;
const macs = macsPerHeadline(shape, lengths);
const peak = peakFlops();
console.log(
  `model ${files.spec.name}, ${texts.length} headlines from ${csvPath} (mean ${(lengths.reduce((a, b) => a + b, 0) / lengths.length).toFixed(1)} tokens), ` +
    `${(macs / 1e6).toFixed(1)} M multiply-adds per headline; peak ${peak.describe}; median of ${rounds} × ${seconds}s`,
);

const rates = new Map<string, Map<number, number[]>>(loaded.map((l) => [l.label, new Map()]));
for (const b of batchSizes) {
  for (let round = 0; round < rounds; round++) {
    for (const { label, model } of loaded) {
      const r = await measure(texts, seconds, model.parallelism, b, (c) =>
        model.embed(c.map((t) => model.tokenizer.encode(t))),
      );
      const byBatch = rates.get(label)!;
      byBatch.set(b, [...(byBatch.get(b) ?? []), r]);
    }
  }
  console.log(`batch ${b} done`);
}

const table: Record<string, Record<string, string>> = {};
for (const { label, loadMs } of loaded) {
  const row: Record<string, string> = { 'load ms': loadMs.toFixed(0) };
  for (const b of batchSizes) {
    const rate = median(rates.get(label)!.get(b)!);
    row[`b${b} /s`] = rate.toFixed(1);
    row[`b${b} %peak`] = ((100 * rate * 2 * macs) / peak.flops).toFixed(1);
  }
  table[label] = row;
}
console.table(table);
for (const { model } of loaded) await model.close();
