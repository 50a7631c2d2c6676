import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';

/** Token ids of one input, already truncated and wrapped in [CLS] … [SEP]. */
export type TokenIds = number[];

/**
 * BERT WordPiece tokenizer driven by the model's own tokenizer.json (BertNormalizer: clean text,
 * CJK split, lower-casing, accent stripping; BertPreTokenizer: whitespace + punctuation split;
 * WordPiece with [UNK] and max 100 chars per word), through the maintained pure-JS
 * `@huggingface/tokenizers`. Truncation and the [CLS]/[SEP] template are applied here the way the
 * Rust `tokenizers` does for a single sequence: keep the first maxTokens-2 word pieces, then add the
 * special tokens (their count is reserved inside maxTokens).
 */
export class WordPieceTokenizer {
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly vocabSize: number;

  private constructor(
    private readonly tok: Tokenizer,
    readonly maxTokens: number,
  ) {
    const id = (t: string): number => {
      const v = tok.token_to_id(t);
      if (v === undefined) throw new Error(`tokenizer has no ${t} token`);
      return v;
    };
    this.clsId = id('[CLS]');
    this.sepId = id('[SEP]');
    this.padId = id('[PAD]');
    this.vocabSize = tok.get_vocab(true).size;
  }

  static async fromFiles(
    tokenizerJson: string,
    tokenizerConfig: string,
    maxTokens: number,
  ): Promise<WordPieceTokenizer> {
    const json = JSON.parse(await readFile(tokenizerJson, 'utf8')) as Record<string, unknown>;
    const config = JSON.parse(await readFile(tokenizerConfig, 'utf8')) as Record<string, unknown>;
    return WordPieceTokenizer.fromObjects(json, config, maxTokens);
  }

  static fromObjects(json: Record<string, unknown>, config: Record<string, unknown>, maxTokens: number) {
    if (!Number.isInteger(maxTokens) || maxTokens < 2) throw new Error('maxTokens must be an integer >= 2');
    const model = json.model as { type?: string } | undefined;
    if (model?.type !== 'WordPiece') throw new Error(`expected a WordPiece tokenizer.json, got ${model?.type}`);
    // Padding and truncation in tokenizer.json are ignored: we pad per batch and truncate to maxTokens.
    return new WordPieceTokenizer(new Tokenizer({ ...json, padding: null, truncation: null }, config), maxTokens);
  }

  /** Word pieces of `text` without special tokens and without truncation. */
  pieces(text: string): string[] {
    return this.tok.tokenize(text, { add_special_tokens: false });
  }

  /** Ids for one input: [CLS] + first maxTokens-2 word pieces + [SEP]. */
  encode(text: string): TokenIds {
    return this.encodeWhole(this.prefixFor(text));
  }

  /** encode() without the long-input shortcut: tokenizes all of `text` (tests compare the two). */
  encodeWhole(text: string): TokenIds {
    return this.wrap(this.tok.encode(text, { add_special_tokens: false }).ids);
  }

  /**
   * A prefix of `text` that yields the same first maxTokens-2 word pieces, so a megabyte-long input
   * does not hold the event loop for seconds only to be truncated. Cuts only at an ASCII space (BERT
   * whitespace, never removed or merged) after maxTokens space-separated chunks that each contain a
   * letter or digit: each such chunk yields at least one word piece after normalisation (letters and
   * digits survive cleaning and accent stripping), so the pieces kept all come from the prefix.
   */
  prefixFor(text: string): string {
    if (text.length <= this.maxTokens * 64) return text;
    const chunk = / *([^ ]+)/gy;
    const wordy = /[\p{L}\p{N}]/u;
    let count = 0;
    for (let m = chunk.exec(text); m; m = chunk.exec(text)) {
      if (wordy.test(m[1]!) && ++count >= this.maxTokens) return text.slice(0, chunk.lastIndex);
    }
    return text;
  }

  /** Wrap already tokenized ids (e.g. an OpenAI token-array input) the same way as encode(). */
  wrap(ids: readonly number[]): TokenIds {
    const body = ids.length > this.maxTokens - 2 ? ids.slice(0, this.maxTokens - 2) : ids;
    return [this.clsId, ...body, this.sepId];
  }
}
