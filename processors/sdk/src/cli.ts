import { loadConfig } from '@feedlog/common';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { type FeedItemInput, FeedlogClient, type ItemResult } from './client.ts';
import { countItems, readItems } from './readers.ts';

interface ProduceOptions {
  batch: number;
  url: string;
  apiKey?: string;
  partial?: boolean;
  concurrency: number;
  json?: boolean;
}

/** `feedlog produce <file.csv|file.jsonl>`: push a file through POST /v1/items with the SDK. */
export function registerProduceCommand(program: Command): void {
  program
    .command('produce <file>')
    .description('push the items of a UCI-format .csv or a .jsonl file through the API')
    .option('--batch <n>', 'items per request', (v) => Number.parseInt(v, 10), 500)
    .option('--url <url>', 'API base URL (FEEDLOG_API_URL, default http://127.0.0.1:$API_PORT)')
    .option('--api-key <key>', 'API key with the write scope (FEEDLOG_API_KEY)')
    .option('--partial', 'accept the valid items of a batch that has invalid ones')
    .option('--concurrency <n>', 'requests in flight', (v) => Number.parseInt(v, 10), 2)
    .option('--json', 'machine-readable summary on stdout')
    .action(async (file: string, raw: Partial<ProduceOptions>) => {
      loadConfig(); // fail early on a bad environment
      const opts: ProduceOptions = {
        batch: raw.batch ?? 500,
        concurrency: raw.concurrency ?? 2,
        url: raw.url ?? process.env.FEEDLOG_API_URL ?? `http://127.0.0.1:${process.env.API_PORT ?? 8080}`,
        apiKey: raw.apiKey ?? process.env.FEEDLOG_API_KEY,
        partial: raw.partial,
        json: raw.json,
      };
      const summary = await produceFile(file, opts);
      if (opts.json) console.log(JSON.stringify(summary));
      else {
        console.log(
          `${summary.accepted} accepted, ${summary.rejected} rejected of ${summary.total} in ${summary.seconds.toFixed(1)} s (${Math.round(summary.itemsPerSecond)} items/s); jobs: ${summary.jobIds.join(', ') || '-'}`,
        );
        for (const r of summary.firstProblems) console.log(`  item ${r.index}: ${r.problems}`);
      }
      if (summary.rejected > 0) process.exitCode = 1;
    });
}

export interface ProduceSummary {
  file: string;
  total: number;
  accepted: number;
  rejected: number;
  jobIds: string[];
  seconds: number;
  itemsPerSecond: number;
  firstProblems: { index: number; problems: string }[];
}

export async function produceFile(file: string, opts: ProduceOptions): Promise<ProduceSummary> {
  const total = await countItems(file);
  const bar =
    opts.json || !process.stderr.isTTY
      ? undefined
      : new SingleBar({
          stream: process.stderr,
          format: 'produce [{bar}] {value}/{total} items | {rate} items/s | rejected {rejected}',
        });
  let done = 0;
  let rejectedSoFar = 0;
  const t0 = performance.now();
  bar?.start(total, 0, { rate: 0, rejected: 0 });
  const client = new FeedlogClient({
    baseUrl: opts.url,
    ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
    batchSize: opts.batch,
    concurrency: opts.concurrency,
    partial: opts.partial ?? false,
    onBatch: (b) => {
      done += b.size;
      rejectedSoFar += b.rejected;
      bar?.update(done, { rate: Math.round(done / ((performance.now() - t0) / 1000)), rejected: rejectedSoFar });
    },
  });
  const pushes: Promise<ItemResult[]>[] = [];
  const push = (items: FeedItemInput[]) => {
    const p = client.pushItems(items).then((r) => r.items);
    p.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
    pushes.push(p);
  };
  try {
    let chunk: FeedItemInput[] = [];
    for await (const item of readItems(file)) {
      chunk.push(item);
      if (chunk.length >= opts.batch) {
        push(chunk);
        chunk = [];
        // keep memory bounded: wait while more than a few batches are queued
        const behind = pushes.at(-opts.concurrency * 2 - 1);
        if (behind) await behind;
      }
    }
    if (chunk.length) push(chunk);
    const results = (await Promise.all(pushes)).flat();
    await client.close();
    bar?.stop();
    const seconds = (performance.now() - t0) / 1000;
    const ok = results.filter((r): r is Extract<ItemResult, { ok: true }> => r.ok);
    const problems: { index: number; problems: string }[] = [];
    results.forEach((r, index) => {
      if (!r.ok && problems.length < 10)
        problems.push({ index, problems: r.problems.map((p) => `${p.field ?? '(item)'} ${p.message}`).join('; ') });
    });
    return {
      file,
      total: results.length,
      accepted: ok.length,
      rejected: results.length - ok.length,
      jobIds: [...new Set(ok.map((r) => r.job_id))],
      seconds,
      itemsPerSecond: results.length / seconds,
      firstProblems: problems,
    };
  } catch (e) {
    bar?.stop();
    await client.close().catch(() => undefined);
    throw e;
  }
}
