// Fills the .feedlog/cache embedding snapshot with the AG News dev texts (title + description, and
// titles alone) so the classifier benches run without the embedder.
//   FEEDLOG_SHARED_DATA=/work/shared/data npx tsx bench/lib/embed-ag.ts
import { fileURLToPath } from 'node:url';
import { loadDataset, textOf } from '../../processors/classify/src/index.ts';
import { embedAll } from './embed-file.ts';

const root = process.env.FEEDLOG_SHARED_DATA ?? fileURLToPath(new URL('../../../shared/data', import.meta.url));
const ds = loadDataset(`${root}/ag_news/ag_news-dev.csv`);
for (const summary of [true, false]) {
  const r = await embedAll(ds.examples.map((e) => textOf(e, summary)));
  console.log(`${summary ? 'full' : 'title'}: ${r.vectors.length} vectors, ${r.sent} sent, ${r.seconds.toFixed(0)} s`);
}
