import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafka, loadConfig } from '@feedlog/common';
import { KafkaRawSink } from '@feedlog/poller/producer';
import { itemId, type RawHeadline, rawHeadlineOf } from '@feedlog/schemas';
import { SingleBar } from 'cli-progress';
import { type FeedItemInput, FeedlogClient } from './client.ts';
import { type ColumnMap, readSource, type SourceRow, sourceKind } from './sources.ts';
import { itemProblems } from './validate.ts';

export interface ProduceOptions {
  /** api: POST /v1/items with the SDK; direct: RawHeadline Avro straight to raw-headlines */
  mode: 'api' | 'direct';
  /** validate and count, produce nothing */
  dryRun?: boolean;
  url: string;
  apiKey?: string;
  batch: number;
  concurrency: number;
  partial?: boolean;
  /** items per second at most */
  rate?: number;
  map?: ColumnMap;
  source?: string;
  /** topic-name prefix for --direct (FEEDLOG_TOPIC_PREFIX) */
  prefix?: string;
  progress?: boolean;
}

export interface RejectedRow {
  line: number;
  reason: string;
}

export interface ProduceSummary {
  file: string;
  mode: 'api' | 'direct' | 'dry-run';
  /** records read (items and unreadable records) */
  total: number;
  /** sent and acknowledged (by the API, or by Kafka with acks=all) */
  produced: number;
  /** the same as produced (kept for scripts written against the first `produce`) */
  accepted: number;
  /** items whose id an earlier record of this input already had: not sent again */
  duplicates: number;
  rejected: number;
  /** every rejected record with its line and the reason */
  rejectedRows: RejectedRow[];
  /** the first ten rejected records by position among the items (kept for scripts) */
  firstProblems: { index: number; problems: string }[];
  jobIds: string[];
  seconds: number;
  itemsPerSecond: number;
}

/** A feed item as POST /v1/items turns it into a RawHeadline (the one mapping, in @feedlog/schemas). */
export function toRawHeadline(it: FeedItemInput, jobId: string, ingestedAt: number): RawHeadline {
  return rawHeadlineOf(it, jobId, ingestedAt);
}

interface Pending {
  line: number;
  index: number;
  item: FeedItemInput;
}

/** Read, validate, de-duplicate, pace, produce: the engine of `feedlog produce`. */
export async function produceInput(input: string, o: ProduceOptions): Promise<ProduceSummary> {
  const kind = sourceKind(input);
  // a feed is read once (a URL is fetched once); files are counted first for the progress bar
  let buffered: SourceRow[] | undefined;
  let total = 0;
  if (kind === 'feed') {
    buffered = [];
    for await (const r of readSource(input, o)) buffered.push(r);
    total = buffered.length;
  } else if (o.progress) for await (const _ of readSource(input, o)) total++;
  const bar = o.progress
    ? new SingleBar({
        stream: process.stderr,
        format: 'produce [{bar}] {value}/{total} | {rate} items/s | dup {dup} | rejected {rej}',
      })
    : undefined;
  bar?.start(total, 0, { rate: 0, dup: 0, rej: 0 });

  const rejectedRows: RejectedRow[] = [];
  const firstProblems: { index: number; problems: string }[] = [];
  const seen = new Set<string>();
  const jobIds = new Set<string>();
  let read = 0;
  let produced = 0;
  let duplicates = 0;
  let sentCount = 0;
  let itemIndex = 0;
  const reject = (line: number, index: number | null, reason: string) => {
    rejectedRows.push({ line, reason });
    if (index !== null && firstProblems.length < 10) firstProblems.push({ index, problems: reason });
  };
  const t0 = performance.now();
  const tick = () =>
    bar?.update(read, {
      rate: Math.round(produced / Math.max(0.001, (performance.now() - t0) / 1000)),
      dup: duplicates,
      rej: rejectedRows.length,
    });

  const runJob = randomUUID();
  const config = o.mode === 'direct' && !o.dryRun ? loadConfig() : undefined;
  const sink = config
    ? new KafkaRawSink(createKafka(config, { clientId: `${config.kafka.clientId}-produce` }), {
        prefix: o.prefix ?? '',
        registryUrl: config.registry.url,
      })
    : undefined;
  const client =
    o.mode === 'api' && !o.dryRun
      ? new FeedlogClient({
          baseUrl: o.url,
          ...(o.apiKey ? { apiKey: o.apiKey } : {}),
          batchSize: o.batch,
          concurrency: o.concurrency,
          partial: o.partial ?? true,
        })
      : undefined;
  const inFlight: Promise<void>[] = [];
  let seconds = 0;
  const send = (chunk: Pending[]) => {
    const p = (async () => {
      if (o.dryRun) {
        produced += chunk.length;
        return;
      }
      if (sink) {
        const at = Date.now();
        await sink.send(chunk.map((c) => toRawHeadline(c.item, runJob, at)));
        jobIds.add(runJob);
        produced += chunk.length;
        return;
      }
      const r = await client!.pushItems(chunk.map((c) => c.item));
      r.items.forEach((res, i) => {
        const c = chunk[i]!;
        if (res.ok) {
          produced++;
          jobIds.add(res.job_id);
        } else reject(c.line, c.index, res.problems.map((p) => `${p.field ?? '(item)'} ${p.message}`).join('; '));
      });
    })().finally(tick);
    inFlight.push(p);
  };

  try {
    let chunk: Pending[] = [];
    const rows: AsyncIterable<SourceRow> | SourceRow[] = buffered ?? readSource(input, o);
    for await (const row of rows) {
      read++;
      if (row.error || !row.item) {
        reject(row.line, null, row.error ?? 'no item');
        tick();
        continue;
      }
      const index = itemIndex++;
      const problems = itemProblems(row.item);
      if (problems.length) {
        reject(row.line, index, problems.join('; '));
        tick();
        continue;
      }
      const id = itemId({ source: row.item.source, guid: row.item.guid?.trim() || null, url: row.item.url });
      if (seen.has(id)) {
        duplicates++;
        tick();
        continue;
      }
      seen.add(id);
      if (o.rate && o.rate > 0) {
        const due = t0 + (sentCount / o.rate) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
      }
      sentCount++;
      chunk.push({ line: row.line, index, item: row.item });
      if (chunk.length >= o.batch || (o.rate && chunk.length >= Math.max(1, Math.ceil(o.rate / 10)))) {
        send(chunk);
        chunk = [];
        // bounded memory: wait while more than a few batches are queued
        const behind = inFlight.at(-o.concurrency * 2 - 1);
        if (behind) await behind;
      }
    }
    if (chunk.length) send(chunk);
    await Promise.all(inFlight);
    seconds = (performance.now() - t0) / 1000; // closing the clients is not producing
  } finally {
    bar?.stop();
    await client?.close().catch(() => undefined);
    await sink?.close().catch(() => undefined);
  }
  rejectedRows.sort((a, b) => a.line - b.line);
  return {
    file: input,
    mode: o.dryRun ? 'dry-run' : o.mode,
    total: read,
    produced,
    accepted: produced,
    duplicates,
    rejected: rejectedRows.length,
    rejectedRows,
    firstProblems: firstProblems.sort((a, b) => a.index - b.index),
    jobIds: [...jobIds],
    seconds,
    itemsPerSecond: produced / seconds,
  };
}
