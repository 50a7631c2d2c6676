import { defaultModelCache, type EnsureModelOptions, ensureModel } from './fetch.ts';
import { type OnnxModelOptions, OnnxSentenceModel } from './onnx-model.ts';

/** Fetch (if not cached) and load each named model. */
export async function loadModels(
  names: readonly string[],
  opts: OnnxModelOptions & EnsureModelOptions & { cacheDir?: string } = {},
): Promise<OnnxSentenceModel[]> {
  const cacheDir = opts.cacheDir ?? defaultModelCache();
  const out: OnnxSentenceModel[] = [];
  for (const name of names) out.push(await OnnxSentenceModel.load(await ensureModel(name, cacheDir, opts), opts));
  return out;
}
