// `tsx processors/embedder/src/fetch-models.ts [model…]`: fill the model cache ahead of time (setup step;
// `feedlog up` runs it before starting the embedder). Without names: the models the embedder will load
// (EMBEDDER_MODELS and EMBEDDER_DEFAULT_MODEL), so the opt-in models are fetched only when asked for.
import { embedderEnv } from './env.ts';
import { defaultModelCache, ensureModel } from './fetch.ts';

const env = embedderEnv.parse();
const served = [...new Set([env.EMBEDDER_DEFAULT_MODEL, ...env.EMBEDDER_MODELS])];
const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : served;
for (const name of names) {
  const files = await ensureModel(name, defaultModelCache(), { mavenRepository: env.EMBEDDER_MAVEN_REPOSITORY });
  process.stdout.write(`${name}: ${files.dir}\n`);
}
