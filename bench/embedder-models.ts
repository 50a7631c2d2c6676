// Embedder speed per model through a running local embedder's HTTP API: the same texts (AG News
// title + description, the fused classifier's input) sent to each model in turn, `rounds` times
// interleaved so load from other processes hits every model alike; the median texts/s is printed.
//   EMBEDDING_BASE_URL=http://127.0.0.1:8090/v1 npx tsx bench/embedder-models.ts \
//     --models all-MiniLM-L6-v2-int8,bge-small-en-v1.5,bge-small-en-v1.5-int8 [--n 512] [--rounds 3]
// Requests carry 64 texts, 2 in flight (bench/lib/embed-file.ts's client settings); no cache.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadDataset, textOf } from '../processors/classify/src/index.ts';
import { embeddingText } from '../processors/embed/src/index.ts';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'all-MiniLM-L6-v2-int8,bge-small-en-v1.5,bge-small-en-v1.5-int8' },
    n: { type: 'string', default: '512' },
    rounds: { type: 'string', default: '3' },
  },
});
const base = process.env.EMBEDDING_BASE_URL ?? 'http://127.0.0.1:8090/v1';
const root = process.env.FEEDLOG_SHARED_DATA ?? fileURLToPath(new URL('../../shared/data', import.meta.url));
const ds = loadDataset(`${root}/ag_news/ag_news-dev.csv`);
const texts = ds.examples.slice(0, Number(values.n)).map((e) => embeddingText({ title: textOf(e), summary: null }));
const models = values.models.split(',');

async function post(model: string, input: string[]): Promise<void> {
  const res = await fetch(`${base}/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, input }),
  });
  if (!res.ok) throw new Error(`${model}: HTTP ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

async function once(model: string): Promise<number> {
  const batches: string[][] = [];
  for (let i = 0; i < texts.length; i += 64) batches.push(texts.slice(i, i + 64));
  const t0 = performance.now();
  const lane = async () => {
    for (let b = batches.shift(); b; b = batches.shift()) await post(model, b);
  };
  await Promise.all([lane(), lane()]);
  return texts.length / ((performance.now() - t0) / 1000);
}

await post(models[0]!, texts.slice(0, 8)); // connection and first-call warm-up
const rates = new Map(models.map((m) => [m, [] as number[]]));
for (let r = 0; r < Number(values.rounds); r++) for (const m of models) rates.get(m)!.push(await once(m));
for (const [m, v] of rates) {
  const sorted = [...v].sort((a, b) => a - b);
  console.log(
    `${m}: median ${sorted[sorted.length >> 1]!.toFixed(1)} texts/s (rounds ${v.map((x) => x.toFixed(1)).join(', ')})`,
  );
}
