import { textOf } from './data.ts';
import type { FusedClassifierModel } from './fused-model.ts';
import type { ClassifierModel } from './model.ts';

/** What the classify stage hands the transform (the fields of a RawHeadline it needs). */
export interface ClassifyInput {
  title: string | null | undefined;
  summary?: string | null;
}

export interface Classified {
  ok: true;
  category: string;
  confidence: number;
  modelName: string;
  modelVersion: string;
}

export interface Rejected {
  ok: false;
  error: ClassifyInputError;
}

export type ClassifyResult = Classified | Rejected;

/** A record the classifier cannot use (no text). Not retriable: the runtime should dead-letter it. */
export class ClassifyInputError extends Error {
  override readonly name = 'ClassifyInputError';
  readonly retriable = false;
}

/** Longest text we featurise; longer inputs are cut (bounded CPU per record). */
export const MAX_TEXT_CHARS = 4000;

/**
 * Pure batch transform for the stage runtime: one result per input, in order. A bad record yields
 * `{ ok: false, error }` instead of throwing, so the rest of the batch is still classified.
 */
export function classifyBatch(model: ClassifierModel, records: readonly ClassifyInput[]): ClassifyResult[] {
  return records.map((r) => {
    const text = classifyText(r);
    if (text instanceof ClassifyInputError) return { ok: false, error: text };
    const p = model.predictOne(text);
    return {
      ok: true,
      category: p.category,
      confidence: p.confidence,
      modelName: model.name,
      modelVersion: model.version,
    };
  });
}

/** The text the n-gram model reads, or the error of a record with none. */
export function classifyText(r: ClassifyInput): string | ClassifyInputError {
  const title = typeof r?.title === 'string' ? r.title.trim() : '';
  const summary = typeof r?.summary === 'string' ? r.summary.trim() : '';
  if (!title && !summary) return new ClassifyInputError('record has neither a title nor a summary to classify');
  return textOf({ title, summary }).slice(0, MAX_TEXT_CHARS);
}

/**
 * The fused model's batch: `vectors` are the records' sentence embeddings in order (undefined for a
 * record the embedder refused, which is returned as `ok: false` with `refused`); one result per record.
 */
export function classifyBatchFused(
  model: FusedClassifierModel,
  records: readonly ClassifyInput[],
  vectors: readonly (Float32Array | Error | undefined)[],
): ClassifyResult[] {
  const out: ClassifyResult[] = new Array(records.length);
  const texts: string[] = [];
  const vs: Float32Array[] = [];
  const at: number[] = [];
  records.forEach((r, i) => {
    const text = classifyText(r);
    const v = vectors[i];
    if (text instanceof ClassifyInputError) out[i] = { ok: false, error: text };
    else if (!(v instanceof Float32Array))
      out[i] = {
        ok: false,
        error: new ClassifyInputError(`the embedder refused the record's text: ${v?.message ?? 'no vector'}`, {
          cause: v,
        }),
      };
    else {
      texts.push(text);
      vs.push(v);
      at.push(i);
    }
  });
  model.predictWithVectors(texts, vs).forEach((p, j) => {
    out[at[j]!] = {
      ok: true,
      category: p.category,
      confidence: p.confidence,
      modelName: model.name,
      modelVersion: model.version,
    };
  });
  return out;
}
