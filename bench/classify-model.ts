/**
 * The n-gram model alone on headline texts: records/s of `predictBatch` over the file's titles,
 * best and median of --rounds passes after a warm-up pass (no Kafka, no Avro).
 *   npx tsx bench/classify-model.ts [--data ../shared/data/uci/stories-dev.csv] [--rounds 15]
 */
import { join } from 'node:path';
import { loadConfig } from '@feedlog/common';
import { loadDataset, textOf } from '../processors/classify/src/data.ts';
import { DEFAULT_FIXTURE, ensureDefaultModel } from '../processors/classify/src/default-model.ts';

const args = process.argv.slice(2);
const arg = (k: string) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : undefined;
};
const data = arg('--data') ?? DEFAULT_FIXTURE;
const rounds = Number(arg('--rounds') ?? 15);
const model = ensureDefaultModel(join(loadConfig().home, 'models'));
const texts = loadDataset(data).examples.map((r) => textOf(r));
let all: string[] = [];
while (all.length < 100_000) all = all.concat(texts);
model.predictBatch(all);
const rates: number[] = [];
for (let r = 0; r < rounds; r++) {
  const t0 = process.hrtime.bigint();
  model.predictBatch(all);
  rates.push(all.length / (Number(process.hrtime.bigint() - t0) / 1e9));
}
rates.sort((a, b) => a - b);
const ascii = all.filter((t) => !/[^ -~\t\n\r]/.test(t)).length / all.length;
process.stdout.write(
  `${all.length} texts (${(ascii * 100).toFixed(1)} % ASCII) from ${data}: predictBatch median ${Math.round(rates[rates.length >> 1]!)} rec/s, best ${Math.round(rates[rates.length - 1]!)} rec/s\n`,
);
