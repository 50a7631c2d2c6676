// Local embedder throughput: headlines/s at batch sizes 1, 16, 64 for the TypeScript embedder
// (onnxruntime-node) against the same model file run from Python's onnxruntime in the same run.
//
//   npx tsx bench/embedder.ts [--model all-MiniLM-L6-v2-int8] [--seconds 2] [--rounds 3] [--n 256] [--batch 1,16,64]
//
// Each cell runs `seconds`; the rows take turns `rounds` times per batch size and the median is
// printed, so load from other processes hits every row alike.
// Rows (all on the same ONNX file, same tokenization, mean pooling + L2 norm included):
//   py            reference.py: tokenizers + onnxruntime, 1 session, 2 intra-op threads, calls in
//                 sequence, each batch padded to its longest row
//   py tuned      the same with the TypeScript side's settings: length buckets (rows sorted by
//                 token count, groups of ≤ 16) and no spinning of idle intra-op threads
//   ts 1x2        OnnxSentenceModel, 1 session with 2 intra-op threads, calls in sequence, no buckets,
//                 spinning on (ORT's default; like for like with py)
//   ts 1x2 bk     the same with buckets of 16 and no spinning (like for like with py tuned)
//   ts 2x1        2 sessions x 1 thread on worker threads, 2 calls in flight, no buckets (the service
//                 before issue 14)
//   ts 2x1 bk     the same with buckets of 16 (the service default)
//   http          the service (its defaults: 1 session x 2 threads, buckets, no spinning; dynamic batching) through the openai client, 4 requests in
//                 flight, each carrying `batch` headlines
// %peak: useful multiply-adds (real tokens, no padding) × 2 per second over the machine's fp32 peak.
// Python is only a baseline here; the product never runs it.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { buildEmbedderApp, DEFAULT_MODEL, ensureModel, OnnxSentenceModel } from '@feedlog/embedder';
import OpenAI from 'openai';
import { findReferencePython, referenceBench } from '../processors/embedder/reference/ref.ts';
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
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    n: { type: 'string', default: '256' },
    batch: { type: 'string', default: '1,16,64' },
  },
});
const seconds = Number(values.seconds);
const batchSizes = values.batch.split(',').map(Number);
const rounds = Number(values.rounds);
const BUCKET = 16;

const { texts, csvPath } = loadHeadlines(Number(values.n));
const files = await ensureModel(values.model);
const seq = await OnnxSentenceModel.load(files, { sessions: 1, intraOpThreads: 2, bucketRows: 0, allowSpinning: true });
const seqBk = await OnnxSentenceModel.load(files, { sessions: 1, intraOpThreads: 2, bucketRows: BUCKET });
const par = await OnnxSentenceModel.load(files, { sessions: 2, intraOpThreads: 1, bucketRows: 0 });
const parBk = await OnnxSentenceModel.load(files, { sessions: 2, intraOpThreads: 1, bucketRows: BUCKET });
const served = await OnnxSentenceModel.load(files); // the service defaults
const app = await buildEmbedderApp({ models: [served], batcher: { maxBatch: 64, maxWaitMs: 3 } });
const address = await app.listen({ host: '127.0.0.1', port: 0 });
const client = new OpenAI({ baseURL: `${address}/v1`, apiKey: 'unused', maxRetries: 0 });
const py = findReferencePython();
if (py.reason) console.log(`python baseline skipped: ${py.reason}`);

const lengths = texts.map((t) => seq.tokenizer.encode(t).length);
const macs = macsPerHeadline(files.spec.name.includes('L3') ? MINILM_L3 : MINILM_L6, lengths);
const peak = peakFlops();
const share = (perS: number) => `${((100 * perS * 2 * macs) / peak.flops).toFixed(1)}%`;
console.log(
  `model ${files.spec.name}, ${texts.length} headlines from ${csvPath} (${(macs / 1e6).toFixed(1)} M multiply-adds each), ` +
    `median of ${rounds} x ${seconds}s per cell, ${availableParallelism()} cores; peak ${peak.describe}`,
);

const pyRate = async (b: number, tuned: boolean) =>
  py.python
    ? (
        await referenceBench(py.python, files, {
          batchSizes: [b],
          n: texts.length,
          threads: 2,
          seconds,
          bucketRows: tuned ? BUCKET : 0,
          spin: !tuned,
        })
      ).get(b)!
    : Number.NaN;
const local = (m: OnnxSentenceModel) => (c: string[]) => m.embed(c.map((t) => m.tokenizer.encode(t)));

const table: Record<string, Record<string, string>> = {};
for (const b of batchSizes) {
  const names = ['py', 'pyBk', 'seq', 'seqBk', 'par', 'parBk', 'http'] as const;
  const r = Object.fromEntries(names.map((k) => [k, [] as number[]])) as Record<(typeof names)[number], number[]>;
  for (let round = 0; round < rounds; round++) {
    r.py.push(await pyRate(b, false));
    r.pyBk.push(await pyRate(b, true));
    r.seq.push(await measure(texts, seconds, 1, b, local(seq)));
    r.seqBk.push(await measure(texts, seconds, 1, b, local(seqBk)));
    r.par.push(await measure(texts, seconds, 2, b, local(par)));
    r.parBk.push(await measure(texts, seconds, 2, b, local(parBk)));
    r.http.push(
      await measure(texts, seconds, 4, b, (c) =>
        client.embeddings.create({ model: files.spec.name, input: c, encoding_format: 'base64' }),
      ),
    );
  }
  const m = Object.fromEntries(names.map((k) => [k, median(r[k])])) as Record<(typeof names)[number], number>;
  const vs = (x: number, base: number) => (Number.isNaN(base) ? 'n/a' : `${(x / base).toFixed(2)}x`);
  table[`batch ${b}`] = {
    'py /s': m.py.toFixed(1),
    'py tuned /s': m.pyBk.toFixed(1),
    'ts 1x2 /s': m.seq.toFixed(1),
    'ts 1x2 bk /s': m.seqBk.toFixed(1),
    'ts 2x1 /s': m.par.toFixed(1),
    'ts 2x1 bk /s': m.parBk.toFixed(1),
    'http /s': m.http.toFixed(1),
    '1x2/py': vs(m.seq, m.py),
    '1x2bk/pytuned': vs(m.seqBk, m.pyBk),
    '2x1bk/py': vs(m.parBk, m.py),
    '2x1bk/pytuned': vs(m.parBk, m.pyBk),
    'http/py': vs(m.http, m.py),
    '2x1bk %peak': share(m.parBk),
    '1x2bk %peak': share(m.seqBk),
  };
  console.log(`batch ${b}:`, JSON.stringify(table[`batch ${b}`]));
}
console.table(table);
const stats = app.batchers.get(files.spec.name)!.stats;
console.log(
  `http: ${stats.rows} rows in ${stats.modelCalls} model calls (mean batch ${(stats.rows / stats.modelCalls).toFixed(1)})`,
);
await app.close();
for (const m of [seq, seqBk, par, parBk]) await m.close();
