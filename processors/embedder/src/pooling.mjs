// Sentence pooling of one row's token embeddings, shared by the ONNX worker (plain JavaScript: see
// onnx-worker.mjs) and the unit tests (through pooling.d.mts).

/**
 * Pool row `b` of `hidden` (flat [batch, seqLen, dims]) into `out` (length dims, zero-filled).
 * `n` is the row's real token count: the attention mask is 1 exactly on its first n positions.
 * 'mean': masked mean over those n tokens (sentence-transformers mean pooling).
 * 'cls': the hidden state of token 0, the [CLS] token (BGE's pooling).
 * With `normalize` the result is scaled to unit L2 length.
 */
export function poolRow(hidden, b, seqLen, dims, n, pooling, normalize, out) {
  const row = b * seqLen * dims;
  if (pooling === 'cls') {
    for (let d = 0; d < dims; d++) out[d] = hidden[row + d];
  } else if (pooling === 'mean') {
    for (let t = 0; t < n; t++) {
      const off = row + t * dims;
      for (let d = 0; d < dims; d++) out[d] += hidden[off + d];
    }
    const inv = 1 / Math.max(n, 1e-9);
    for (let d = 0; d < dims; d++) out[d] *= inv;
  } else {
    throw new Error(`unknown pooling ${pooling}`);
  }
  if (normalize) {
    let norm = 0;
    for (let d = 0; d < dims; d++) norm += out[d] * out[d];
    const s = 1 / Math.max(Math.sqrt(norm), 1e-12);
    for (let d = 0; d < dims; d++) out[d] *= s;
  }
}
