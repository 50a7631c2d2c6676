import { loadConfig } from '@feedlog/common';
import type { Command } from 'commander';
import { sdkEnv } from './env.ts';
import { type ProduceSummary, produceInput } from './produce.ts';
import { type ColumnMap, parseColumnMap } from './sources.ts';

export type { ProduceSummary } from './produce.ts';

interface RawOptions {
  batch: number;
  url?: string;
  apiKey?: string;
  partial?: boolean;
  concurrency: number;
  json?: boolean;
  direct?: boolean;
  dryRun?: boolean;
  rate?: number;
  map?: string;
  source?: string;
}

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!(n > 0)) throw new Error(`${name} must be a positive number, got ${v}`);
  return n;
};

/**
 * `feedlog produce <file|url>`: a .csv (UCI columns, item-field columns, or --map), a .jsonl, or
 * a feed (file or URL) through the API with the SDK, or --direct to raw-headlines.
 */
export function registerProduceCommand(program: Command): void {
  program
    .command('produce <input>')
    .description('push items from a .csv, .jsonl or feed (file or URL) through the API, or --direct to Kafka')
    .option('--direct', 'produce RawHeadline Avro straight to raw-headlines (the API path, without HTTP)')
    .option('--dry-run', 'read and validate everything, produce nothing, print the summary')
    .option('--rate <n>', 'items per second at most', positiveInt('--rate'))
    .option(
      '--map <pairs>',
      'CSV columns: title=TITLE,url=URL,source=PUBLISHER,guid=ID,published_at=TIMESTAMP,summary=…',
    )
    .option('--source <id>', 'source id when the input gives none (CSV with --map, feed files)')
    .option('--batch <n>', 'items per request or Kafka send', positiveInt('--batch'), 500)
    .option('--url <url>', 'API base URL (FEEDLOG_API_URL, default http://127.0.0.1:$API_PORT)')
    .option('--api-key <key>', 'API key with the write scope (FEEDLOG_API_KEY)')
    .option(
      '--partial',
      'accept the valid items of a batch the API finds invalid ones in (default when validated locally)',
    )
    .option('--concurrency <n>', 'requests in flight', positiveInt('--concurrency'), 2)
    .option('--json', 'machine-readable summary on stdout')
    .action(async (input: string, raw: RawOptions) => {
      loadConfig(); // fail early on a bad environment
      let map: ColumnMap | undefined;
      try {
        map = raw.map ? parseColumnMap(raw.map) : undefined;
      } catch (e) {
        console.error(`feedlog produce: ${(e as Error).message}`);
        process.exitCode = 2;
        return;
      }
      let summary: ProduceSummary;
      try {
        const env = sdkEnv.parse();
        summary = await produceInput(input, {
          mode: raw.direct ? 'direct' : 'api',
          dryRun: raw.dryRun ?? false,
          url: raw.url ?? env.FEEDLOG_API_URL ?? `http://127.0.0.1:${env.API_PORT}`,
          ...(raw.apiKey || env.FEEDLOG_API_KEY ? { apiKey: raw.apiKey ?? env.FEEDLOG_API_KEY } : {}),
          batch: raw.batch ?? 500,
          concurrency: raw.concurrency ?? 2,
          partial: raw.partial ?? true,
          ...(raw.rate ? { rate: raw.rate } : {}),
          ...(map ? { map } : {}),
          ...(raw.source ? { source: raw.source } : {}),
          prefix: env.FEEDLOG_TOPIC_PREFIX,
          progress: !raw.json && process.stderr.isTTY === true,
        });
      } catch (e) {
        // an unreadable input, an unreachable API or broker: one line, not a stack
        console.error(`feedlog produce: ${(e as Error).message}`);
        process.exitCode = 1;
        return;
      }
      if (raw.json) console.log(JSON.stringify(summary));
      else {
        console.log(
          `${summary.mode}: ${summary.produced} ${summary.mode === 'dry-run' ? 'valid (nothing produced)' : 'produced'}, ${summary.duplicates} duplicates, ${summary.rejected} rejected of ${summary.total} records in ${summary.seconds.toFixed(1)} s (${Math.round(summary.itemsPerSecond)} items/s); jobs: ${summary.jobIds.join(', ') || '-'}`,
        );
        for (const r of summary.rejectedRows.slice(0, 20)) console.log(`  line ${r.line}: ${r.reason}`);
        if (summary.rejectedRows.length > 20)
          console.log(`  … ${summary.rejectedRows.length - 20} more (--json lists all)`);
      }
      if (summary.rejected > 0) process.exitCode = 1;
    });
}

/** The first `produce` API: a file through the API (kept for callers of the SDK). */
export async function produceFile(
  file: string,
  opts: { batch: number; url: string; apiKey?: string; partial?: boolean; concurrency: number },
) {
  return produceInput(file, { mode: 'api', ...opts });
}
