// `tsx processors/embedder/src/fetch-models.ts [model…]`: fill the model cache ahead of time (setup step).
import { defaultModelCache, ensureModel } from './fetch.ts';
import { MODELS } from './models.ts';

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(MODELS);
for (const name of names) {
  const files = await ensureModel(name, defaultModelCache());
  process.stdout.write(`${name}: ${files.dir}\n`);
}
