// The load generator: POST /v1/items in batches, `concurrency` requests in flight, at `rate`
// items/s (batches released on a schedule) or as fast as the API accepts. A 429/503 is retried
// after a pause (the API's back-pressure), so every item is eventually pushed once accepted.
import { setTimeout as sleep } from 'node:timers/promises';
import { type HeadlineSet, nthItem } from './headlines.ts';

export interface LoadOptions {
  baseUrl: string;
  apiKey: string;
  records: number;
  /** items/s; undefined: as fast as it goes */
  rate?: number;
  batch: number;
  concurrency: number;
  run: string;
  set: HeadlineSet;
  onProgress?: (accepted: number) => void;
}

export interface LoadResult {
  accepted: number;
  jobIds: string[];
  seconds: number;
  retries: number;
  /** accepted items per whole second since the start */
  perSecond: number[];
}

export async function pushLoad(o: LoadOptions, t0 = performance.now()): Promise<LoadResult> {
  const batches = Math.ceil(o.records / o.batch);
  const jobIds: string[] = [];
  const perSecond: number[] = [];
  let next = 0;
  let accepted = 0;
  let retries = 0;
  const worker = async () => {
    for (;;) {
      const b = next++;
      if (b >= batches) return;
      if (o.rate) {
        const due = t0 + ((b * o.batch) / o.rate) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
      }
      const from = b * o.batch;
      const items = Array.from({ length: Math.min(o.batch, o.records - from) }, (_, i) =>
        nthItem(o.set, o.run, from + i),
      );
      const body = JSON.stringify({ items });
      for (let attempt = 0; ; attempt++) {
        const r = await fetch(`${o.baseUrl}/v1/items`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': o.apiKey },
          body,
          signal: AbortSignal.timeout(60_000),
        }).catch((e: unknown) => e as Error);
        if (!(r instanceof Error) && r.ok) {
          const j = (await r.json()) as { job_id: string; items: unknown[] };
          jobIds.push(j.job_id);
          accepted += j.items.length;
          const s = Math.floor((performance.now() - t0) / 1000);
          perSecond[s] = (perSecond[s] ?? 0) + j.items.length;
          o.onProgress?.(accepted);
          break;
        }
        const status = r instanceof Error ? 0 : r.status;
        // a refusal of the body is a bug of the bench, not back-pressure: stop
        if (status >= 400 && status < 500 && status !== 429) {
          throw new Error(`POST /v1/items: ${status} ${r instanceof Error ? '' : await r.text()}`);
        }
        if (attempt >= 30)
          throw new Error(`POST /v1/items failed ${attempt} times (last: ${status || (r as Error).message})`);
        retries++;
        await sleep(Math.min(5_000, 100 * 2 ** attempt));
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  for (let i = 0; i < perSecond.length; i++) perSecond[i] ??= 0;
  return { accepted, jobIds, seconds: (performance.now() - t0) / 1000, retries, perSecond };
}
