// Local embedder throughput: headlines/s at batch sizes 1, 16, 64 for the TypeScript embedder
// (onnxruntime-node) against the same model run from Python's onnxruntime in the same run.
//
//   npx tsx bench/embedder.ts [--model all-MiniLM-L6-v2-int8] [--seconds 2] [--rounds 3] [--n 256] [--batch 1,16,64]
//
// Each cell runs `seconds`; the four rows take turns `rounds` times per batch size and the median is
// printed, so load from other processes on a shared machine hits every row alike.
// Rows (all on the same ONNX file, same tokenization, mean pooling + L2 norm included):
//   python-ort        reference.py: tokenizers + onnxruntime, 1 session, 2 intra-op threads, calls in sequence
//   ts 1x2 seq        OnnxSentenceModel, 1 session with 2 intra-op threads, calls in sequence (like for like)
//   ts 2x1 par        OnnxSentenceModel, 2 sessions x 1 thread on worker threads, 2 calls in flight (the service default)
//   http openai       the service (dynamic batching, 2x1 sessions) through the openai client, 4 requests in flight,
//                     each carrying `batch` headlines
// Python is only a baseline here; the product never runs it.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildEmbedderApp, DEFAULT_MODEL, ensureModel, OnnxSentenceModel } from '@feedlog/embedder';
import { parse } from 'csv-parse/sync';
import OpenAI from 'openai';
import { findReferencePython, headlinesCsv, referenceBench } from '../processors/embedder/reference/ref.ts';

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
const n = Number(values.n);
const rounds = Number(values.rounds);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const fixture = resolve(import.meta.dirname, '../processors/embedder/test/fixtures/headlines.csv');
const csvPath = existsSync(headlinesCsv()) ? headlinesCsv() : fixture;
if (csvPath === fixture) console.log(`shared data not found: using ${fixture}`);
const rows = parse(readFileSync(csvPath), { columns: true }) as { TITLE: string }[];
const texts = rows.slice(0, n).map((r) => r.TITLE);

/** Run `step` repeatedly with `parallel` loops for at least `seconds`; items/s. */
async function measure(parallel: number, batch: number, step: (chunk: string[]) => Promise<unknown>): Promise<number> {
  await step(texts.slice(0, batch)); // warm-up
  let done = 0;
  let pos = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const loop = async () => {
    while (performance.now() < deadline) {
      const start = pos % texts.length;
      pos += batch;
      const chunk = texts.slice(start, start + batch);
      await step(chunk);
      done += chunk.length;
    }
  };
  await Promise.all(Array.from({ length: parallel }, loop));
  return done / ((performance.now() - t0) / 1000);
}

const files = await ensureModel(values.model);
const seq = await OnnxSentenceModel.load(files, { sessions: 1, intraOpThreads: 2 });
const par = await OnnxSentenceModel.load(files, { sessions: 2, intraOpThreads: 1 });
const served = await OnnxSentenceModel.load(files, { sessions: 2, intraOpThreads: 1 });
const app = await buildEmbedderApp({ models: [served], batcher: { maxBatch: 64, maxWaitMs: 3 } });
const address = await app.listen({ host: '127.0.0.1', port: 0 });
const client = new OpenAI({ baseURL: `${address}/v1`, apiKey: 'unused', maxRetries: 0 });
const py = findReferencePython();
if (py.reason) console.log(`python baseline skipped: ${py.reason}`);

console.log(
  `model ${files.spec.name}, ${texts.length} headlines from ${csvPath}, median of ${rounds} x ${seconds}s per cell, ${availableParallelism()} cores`,
);
const table: Record<string, Record<string, string>> = {};
for (const b of batchSizes) {
  const r: Record<'py' | 'seq' | 'par' | 'http', number[]> = { py: [], seq: [], par: [], http: [] };
  for (let round = 0; round < rounds; round++) {
    r.py.push(
      py.python
        ? (await referenceBench(py.python, files, { batchSizes: [b], n: texts.length, threads: 2, seconds })).get(b)!
        : Number.NaN,
    );
    r.seq.push(await measure(1, b, (c) => seq.embed(c.map((t) => seq.tokenizer.encode(t)))));
    r.par.push(await measure(2, b, (c) => par.embed(c.map((t) => par.tokenizer.encode(t)))));
    r.http.push(
      await measure(4, b, (c) =>
        client.embeddings.create({ model: files.spec.name, input: c, encoding_format: 'base64' }),
      ),
    );
  }
  const [pyRate, tsSeq, tsPar, http] = [median(r.py), median(r.seq), median(r.par), median(r.http)];
  const ratio = (x: number) => (Number.isNaN(pyRate) ? 'n/a' : `${(x / pyRate).toFixed(2)}x`);
  table[`batch ${b}`] = {
    'python-ort /s': pyRate.toFixed(1),
    'ts 1x2 seq /s': tsSeq.toFixed(1),
    'ts/py (seq)': ratio(tsSeq),
    'ts 2x1 par /s': tsPar.toFixed(1),
    'ts/py (par)': ratio(tsPar),
    'http openai /s': http.toFixed(1),
    'http/py': ratio(http),
  };
  console.log(`batch ${b}:`, JSON.stringify(table[`batch ${b}`]));
}
console.table(table);
const stats = app.batchers.get(files.spec.name)!.stats;
console.log(
  `http: ${stats.rows} rows in ${stats.modelCalls} model calls (mean batch ${(stats.rows / stats.modelCalls).toFixed(1)})`,
);
await app.close();
await seq.close();
await par.close();
