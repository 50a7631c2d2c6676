// One ONNX Runtime session on its own thread. onnxruntime-node's session.run() is synchronous
// (it blocks the calling thread for the whole inference), so each session lives in a worker and the
// HTTP event loop stays free. Plain JavaScript on purpose: a worker thread does not inherit tsx's
// TypeScript loader, so this file must load with Node alone. Keep it small.
//
// workerData: { onnx, intraOpThreads, outputName, dims, normalize }
// request:    { id, ids: Int32Array (rows concatenated), lengths: Int32Array }
// reply:      { id, vectors: Float32Array (rows × dims) } or { id, error }
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

const { onnx, intraOpThreads, outputName, dims, normalize } = workerData;

const session = await ort.InferenceSession.create(onnx, {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: intraOpThreads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
});
const needsTokenTypes = session.inputNames.includes('token_type_ids');

/** Pad rows to the longest, run the graph, masked-mean-pool, L2-normalise. */
function embed(ids, lengths) {
  const batch = lengths.length;
  let seqLen = 0;
  for (const l of lengths) seqLen = Math.max(seqLen, l);
  const inputIds = new BigInt64Array(batch * seqLen);
  const mask = new BigInt64Array(batch * seqLen);
  let src = 0;
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < lengths[b]; t++) {
      inputIds[b * seqLen + t] = BigInt(ids[src++]);
      mask[b * seqLen + t] = 1n;
    }
  }
  const shape = [batch, seqLen];
  const feeds = {
    input_ids: new ort.Tensor('int64', inputIds, shape),
    attention_mask: new ort.Tensor('int64', mask, shape),
  };
  if (needsTokenTypes) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(batch * seqLen), shape);
  const out = session.run(feeds, [outputName]);
  return out.then((o) => {
    const hidden = o[outputName];
    if (hidden.dims[2] !== dims) throw new Error(`model returned ${hidden.dims[2]} dims, expected ${dims}`);
    const h = hidden.data;
    const vectors = new Float32Array(batch * dims);
    for (let b = 0; b < batch; b++) {
      const v = vectors.subarray(b * dims, (b + 1) * dims);
      const n = lengths[b]; // the mask is 1 exactly on the first lengths[b] positions
      for (let t = 0; t < n; t++) {
        const off = (b * seqLen + t) * dims;
        for (let d = 0; d < dims; d++) v[d] += h[off + d];
      }
      const inv = 1 / Math.max(n, 1e-9);
      let norm = 0;
      for (let d = 0; d < dims; d++) {
        v[d] *= inv;
        norm += v[d] * v[d];
      }
      if (normalize) {
        const s = 1 / Math.max(Math.sqrt(norm), 1e-12);
        for (let d = 0; d < dims; d++) v[d] *= s;
      }
    }
    return vectors;
  });
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
