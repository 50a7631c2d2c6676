// One ONNX Runtime session on its own thread. onnxruntime-node's session.run() is synchronous
// (it blocks the calling thread for the whole inference), so each session lives in a worker and the
// HTTP event loop stays free. Plain JavaScript on purpose: a worker thread does not inherit tsx's
// TypeScript loader, so this file must load with Node alone. Keep it small.
//
// workerData: { onnx, outputName, dims, pooling, normalize, bucketRows, ort: { graphOptimizationLevel,
//               intraOpThreads, interOpThreads, executionMode, allowSpinning } }
// request:    { id, ids: Int32Array (rows concatenated), lengths: Int32Array }
// reply:      { id, vectors: Float32Array (rows × dims) } or { id, error }
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { poolRow } from './pooling.mjs';

const { onnx, outputName, dims, pooling, normalize, bucketRows, ort: o } = workerData;

const session = await ort.InferenceSession.create(onnx, {
  executionProviders: ['cpu'],
  graphOptimizationLevel: o.graphOptimizationLevel,
  intraOpNumThreads: o.intraOpThreads,
  interOpNumThreads: o.interOpThreads,
  executionMode: o.executionMode,
  // Spinning intra-op threads burn a core while they wait for work; on a shared machine that core is
  // taken from someone else (only matters with more than one intra-op thread).
  extra: { session: { intra_op: { allow_spinning: o.allowSpinning ? '1' : '0' } } },
});
const needsTokenTypes = session.inputNames.includes('token_type_ids');

/**
 * Length buckets: the rows' indices sorted by token count, cut into consecutive groups of at most
 * bucketRows rows (equal-sized, so 20 rows at 16 become 10 + 10, not 16 + 4). Each group is padded
 * only to its own longest row, not to the longest of the whole call. bucketRows 0 = one group.
 */
function buckets(lengths, maxRows) {
  const order = Array.from(lengths.keys());
  if (!maxRows || lengths.length <= 1) return [order];
  order.sort((a, b) => lengths[a] - lengths[b] || a - b);
  const groups = Math.ceil(order.length / maxRows);
  const size = Math.ceil(order.length / groups);
  const out = [];
  for (let i = 0; i < order.length; i += size) out.push(order.slice(i, i + size));
  return out;
}

/** Pad the rows of one bucket to its longest, run the graph, pool (mean or CLS), L2-normalise into `vectors`. */
async function runBucket(rows, ids, starts, lengths, vectors) {
  const batch = rows.length;
  let seqLen = 0;
  for (const r of rows) seqLen = Math.max(seqLen, lengths[r]);
  const inputIds = new BigInt64Array(batch * seqLen);
  const mask = new BigInt64Array(batch * seqLen);
  for (let b = 0; b < batch; b++) {
    const r = rows[b];
    for (let t = 0, src = starts[r]; t < lengths[r]; t++) {
      inputIds[b * seqLen + t] = BigInt(ids[src + t]);
      mask[b * seqLen + t] = 1n;
    }
  }
  const shape = [batch, seqLen];
  const feeds = {
    input_ids: new ort.Tensor('int64', inputIds, shape),
    attention_mask: new ort.Tensor('int64', mask, shape),
  };
  if (needsTokenTypes) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(batch * seqLen), shape);
  const out = await session.run(feeds, [outputName]);
  const hidden = out[outputName];
  if (hidden.dims[2] !== dims) throw new Error(`model returned ${hidden.dims[2]} dims, expected ${dims}`);
  const h = hidden.data;
  for (let b = 0; b < batch; b++) {
    const r = rows[b];
    // written at the row's input position; lengths[r] = the row's real tokens (mask is 1 on them)
    poolRow(h, b, seqLen, dims, lengths[r], pooling, normalize, vectors.subarray(r * dims, (r + 1) * dims));
  }
}

async function embed(ids, lengths) {
  const starts = new Int32Array(lengths.length);
  for (let i = 1; i < lengths.length; i++) starts[i] = starts[i - 1] + lengths[i - 1];
  const vectors = new Float32Array(lengths.length * dims);
  for (const rows of buckets(lengths, bucketRows)) await runBucket(rows, ids, starts, lengths, vectors);
  return vectors;
}

parentPort.on('message', async (msg) => {
  try {
    const vectors = await embed(msg.ids, msg.lengths);
    parentPort.postMessage({ id: msg.id, vectors }, [vectors.buffer]);
  } catch (e) {
    parentPort.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
  }
});
parentPort.postMessage({ ready: true, inputs: session.inputNames, outputs: session.outputNames });
