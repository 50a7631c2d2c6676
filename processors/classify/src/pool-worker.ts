// A classify pool thread (see pool.ts): the stage's n-gram model, rebuilt from the header and
// weights it was given, scoring jobs one after another. Messages in: PoolJob; out: PoolReply.
import { parentPort, workerData } from 'node:worker_threads';
import { ClassifierModel } from './model.ts';
import type { PoolJob, PoolReply, PoolWorkerData } from './pool.ts';

const data = workerData as PoolWorkerData;
const model = new ClassifierModel(data.header, data.weights);
const port = parentPort;
if (!port) throw new Error('pool-worker.ts runs as a worker thread');

port.on('message', (job: PoolJob) => {
  try {
    const texts: string[] = new Array(job.lengths.length);
    for (let i = 0, at = 0; i < texts.length; i++) {
      const len = job.lengths[i] as number;
      texts[i] = job.text.slice(at, at + len);
      at += len;
    }
    const { category, confidence } = model.predictBatch(texts);
    const reply: PoolReply = { id: job.id, category, confidence };
    port.postMessage(reply, [category.buffer, confidence.buffer]);
  } catch (e) {
    const reply: PoolReply = { id: job.id, error: e instanceof Error ? e.message : String(e) };
    port.postMessage(reply);
  }
});
