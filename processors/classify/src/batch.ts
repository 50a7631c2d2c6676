import { textOf } from './data.ts';
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
    const title = typeof r?.title === 'string' ? r.title.trim() : '';
    const summary = typeof r?.summary === 'string' ? r.summary.trim() : '';
    if (!title && !summary) {
      return { ok: false, error: new ClassifyInputError('record has neither a title nor a summary to classify') };
    }
    const text = textOf({ title, summary }).slice(0, MAX_TEXT_CHARS);
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
