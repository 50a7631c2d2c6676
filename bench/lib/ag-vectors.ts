// The AG News dev file with its labels as class indexes and the sentence vectors of each row's
// full text and of its title alone (through embedAll: the embedding cache, else the embedder),
// shared by the fusion experiments of issue 16 (bench/classify-stack-*.ts).
import { fileURLToPath } from 'node:url';
import { type Dataset, loadDataset, textOf } from '../../processors/classify/src/index.ts';
import { embedAll } from './embed-file.ts';

export const sharedDataRoot =
  process.env.FEEDLOG_SHARED_DATA ?? fileURLToPath(new URL('../../../shared/data', import.meta.url));

export interface AgVectors {
  ds: Dataset;
  /** class index of each row, in `ds.labels` order */
  y: number[];
  /** vector of each row's title + description */
  full: Float32Array[];
  /** vector of each row's title alone */
  title: Float32Array[];
}

export async function loadAgVectors(model: string, root = sharedDataRoot): Promise<AgVectors> {
  const ds = loadDataset(`${root}/ag_news/ag_news-dev.csv`);
  const li = new Map(ds.labels.map((l, i) => [l, i]));
  const y = ds.examples.map((e) => li.get(e.label)!);
  const full = (
    await embedAll(
      ds.examples.map((e) => textOf(e)),
      model,
    )
  ).vectors;
  const title = (
    await embedAll(
      ds.examples.map((e) => textOf(e, false)),
      model,
    )
  ).vectors;
  return { ds, y, full, title };
}
