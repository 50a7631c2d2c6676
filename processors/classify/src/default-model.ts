import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelArtifactError } from './artifact.ts';
import { loadDataset } from './data.ts';
import { type ClassifierModel, loadModel } from './model.ts';
import { type Candidate, FAST_CHARS, trainClassifier, writeModel } from './train.ts';

/** The hand-written fixture the default model is trained on (160 headlines, UCI's four categories). */
export const DEFAULT_FIXTURE = fileURLToPath(new URL('../fixtures/headlines.csv', import.meta.url));
export const DEFAULT_MODEL_NAME = 'feedlog-classify-default';
export const DEFAULT_MODEL_FILE = 'classify-default.flcm';
/** Bump when the fixture or the recipe changes, so an old artifact on disk is rebuilt. */
export const DEFAULT_RECIPE = 'fixture-v2';
const RECIPE: Candidate = { method: 'nbsvm', features: { ...FAST_CHARS, bits: 18 }, params: { lr: 2, epochs: 20 } };

/**
 * Returns the default model in `dir`, training it from the bundled fixture when it is missing, unreadable or
 * from an older recipe. Deterministic (fixed seed): the same fixture gives the same `version` everywhere.
 * Needs nothing outside this package (no ../shared data). Train on real data with `feedlog train classify`.
 */
export function ensureDefaultModel(dir: string, log: (line: string) => void = () => {}): ClassifierModel {
  const path = join(dir, DEFAULT_MODEL_FILE);
  if (existsSync(path)) {
    try {
      const m = loadModel(path);
      if (m.name === DEFAULT_MODEL_NAME && m.header.training.split.includes(DEFAULT_RECIPE)) return m;
      log(`${path}: ${m.name} from another recipe, rebuilding`);
    } catch (e) {
      if (!(e instanceof ModelArtifactError)) throw e;
      log(`${path}: ${e.message}; rebuilding`);
    }
  }
  const t0 = performance.now();
  const r = trainDefaultModel();
  writeModel(path, r);
  log(
    `trained ${DEFAULT_MODEL_NAME} ${r.header.version} from ${DEFAULT_FIXTURE} in ${(performance.now() - t0).toFixed(0)} ms`,
  );
  return loadModel(path);
}

export function trainDefaultModel(): ReturnType<typeof trainClassifier> {
  const ds = loadDataset(DEFAULT_FIXTURE, 'csv');
  const r = trainClassifier(ds, {
    name: DEFAULT_MODEL_NAME,
    seed: 7,
    holdout: 0,
    candidates: [RECIPE],
    measureSpeed: false,
  });
  r.header.training.split = `${DEFAULT_RECIPE}: ${r.header.training.split}`;
  return r;
}
