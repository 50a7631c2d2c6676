import { createKafka, loadConfig } from '@feedlog/common';
import { onShutdown } from '@feedlog/runtime';
import { Presets, SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import { type Command, InvalidArgumentError } from 'commander';
import pg from 'pg';
import { RecordDecoder } from './decode.ts';
import { opsEnv } from './env.ts';
import { type ItemJourney, itemJourney } from './item.ts';
import { recordJson, summarize } from './render.ts';
import { allTopics, startTail } from './tail.ts';

interface TailFlags {
  all?: boolean;
  fromBeginning?: boolean;
  key?: string;
  grep?: RegExp;
  json?: boolean;
  prefix: string;
  limit?: number;
}

const regex = (v: string): RegExp => {
  try {
    return new RegExp(v, 'i');
  } catch (e) {
    throw new InvalidArgumentError(`not a regular expression: ${(e as Error).message}`);
  }
};
const positive = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
};
const prefixDefault = () => opsEnv.parse().FEEDLOG_TOPIC_PREFIX;

/** `feedlog tail` and `feedlog item`: read the log the way an operator debugging an item needs. */
export function registerOpsCommands(program: Command): void {
  program
    .command('tail [topics...]')
    .description('follow topics, decoding each record with the registry: one line per record (or --json)')
    .option('--all', 'every feedlog topic that carries Avro, dead-letter topics included')
    .option('--from-beginning', 'start at the log start instead of the end')
    .option('--key <key>', 'only this key (reads only the partition it hashes to)')
    .option('--grep <re>', 'only records whose line or decoded record matches (case-insensitive)', regex)
    .option('--limit <n>', 'stop after n records', positive)
    .option('--prefix <prefix>', 'topic prefix for --all (FEEDLOG_TOPIC_PREFIX)', prefixDefault())
    .option('--json', 'one JSON document per record (vectors and byte payloads shortened)')
    .action(async (names: string[], f: TailFlags) => {
      const config = loadConfig();
      const topics = [...new Set([...names, ...(f.all ? allTopics(f.prefix) : [])])];
      if (topics.length === 0) {
        process.stderr.write('feedlog: error: name at least one topic, or --all\n');
        process.exitCode = 1;
        return;
      }
      const kafka = createKafka(config, { clientId: `${config.kafka.clientId}-tail` });
      const admin = kafka.admin();
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      await admin.disconnect();
      const missing = topics.filter((t) => !existing.has(t));
      const named = missing.filter((t) => names.includes(t));
      if (named.length || missing.length === topics.length) {
        process.stderr.write(
          `feedlog: error: no such topic: ${(named.length ? named : missing).join(', ')} (see \`feedlog topics list\`)\n`,
        );
        process.exitCode = 1;
        return;
      }
      if (missing.length)
        process.stderr.write(`feedlog: skipping declared topics not created: ${missing.join(', ')}\n`);
      let seen = 0;
      let stopTail: () => Promise<void> = async () => {};
      const finish = new Promise<void>((resolve) => {
        onShutdown(
          async () => {
            await stopTail();
            resolve();
          },
          { log: () => {} },
        );
      });
      const reader = await startTail({
        kafka,
        decoder: new RecordDecoder({ registryUrl: config.registry.url }),
        topics: topics.filter((t) => existing.has(t)),
        fromBeginning: !!f.fromBeginning,
        ...(f.key !== undefined ? { key: f.key } : {}),
        ...(f.grep ? { grep: f.grep } : {}),
        json: !!f.json,
        write: (line) => {
          if (f.limit !== undefined && seen >= f.limit) return;
          process.stdout.write(`${line}\n`);
          seen++;
          if (f.limit !== undefined && seen >= f.limit) void stopTail().then(() => process.exit(0));
        },
        onCrash: (e) => {
          process.stderr.write(`feedlog: error: the consumer stopped: ${e.message}\n`);
          void stopTail().then(() => process.exit(1));
        },
      });
      stopTail = () => reader.stop();
      if (!f.json)
        process.stderr.write(
          `feedlog: tailing ${topics.length} topic(s) ${f.fromBeginning ? 'from the beginning' : 'from the end'}; Ctrl-C to stop\n`,
        );
      await finish;
    });

  program
    .command('item <id>')
    .description("one item's journey: its record in every stage topic, its dead letters, its PostgreSQL row")
    .option('--prefix <prefix>', 'topic prefix (FEEDLOG_TOPIC_PREFIX)', prefixDefault())
    .option('--timeout <seconds>', 'give up scanning a partition after this long', positive, 60)
    .option('--json', 'machine-readable output')
    .action(async (id: string, f: { prefix: string; timeout: number; json?: boolean }) => {
      if (!/^[0-9a-f]{32}$/i.test(id))
        process.stderr.write(`feedlog: note: ${id} is not a 32-hex-digit item id; looking it up as a key anyway\n`);
      const config = loadConfig();
      const kafka = createKafka(config, { clientId: `${config.kafka.clientId}-item` });
      const pool = new pg.Pool({ connectionString: config.postgres.url, max: 1, connectionTimeoutMillis: 3_000 });
      pool.on('error', () => undefined);
      // a bar only for a person watching: stdout may be --json for a script
      const bar = process.stderr.isTTY
        ? new SingleBar(
            { format: 'scanning {bar} {value}/{total} records', stream: process.stderr },
            Presets.shades_classic,
          )
        : undefined;
      let started = false;
      try {
        const j = await itemJourney({
          onProgress: (scanned, total) => {
            if (!bar) return;
            if (!started) bar.start(total, 0);
            started = true;
            bar.update(scanned);
          },
          kafka,
          decoder: new RecordDecoder({ registryUrl: config.registry.url }),
          itemId: id,
          prefix: f.prefix,
          pool,
          timeoutMs: f.timeout * 1000,
        });
        bar?.stop();
        printJourney(j, !!f.json);
        if (j.records.length === 0 && !j.row) process.exitCode = 1;
      } finally {
        if (started) bar?.stop();
        await pool.end();
      }
    });
}

function printJourney(j: ItemJourney, json: boolean): void {
  const row = j.row ? Object.fromEntries(Object.entries(j.row).filter(([k]) => k !== 'search_tsv')) : j.row;
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ ...j, row, records: j.records.map(recordJson), deadLetters: j.deadLetters.map(recordJson) }, null, 2)}\n`,
    );
    return;
  }
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(`item ${j.itemId}`);
  const stages = new Table({
    head: ['topic', 'partition', 'offset', 'time', 'generation', 'record'],
    style: { head: [], border: [] },
  });
  for (const r of j.records) {
    const rec = recordJson(r);
    stages.push([
      r.topic,
      r.partition,
      r.offset,
      String(rec.time),
      String(rec.generation ?? '-'),
      summarize(r.decoded),
    ]);
  }
  out(j.records.length ? stages.toString() : 'no record of it in any stage topic');
  if (j.deadLetters.length) {
    const dl = new Table({
      head: ['dead letter topic', 'partition', 'offset', 'time', 'reason'],
      style: { head: [], border: [] },
    });
    for (const r of j.deadLetters)
      dl.push([r.topic, r.partition, r.offset, new Date(r.timestamp).toISOString(), summarize(r.decoded)]);
    out(dl.toString());
  } else out('no dead letters');
  if (j.incomplete.length) out(`not scanned to the end in time: ${j.incomplete.join(', ')}`);
  if (j.failures?.length) {
    const ft = new Table({
      head: ['stage', 'source', 'generation', 'error', 'failed at'],
      style: { head: [], border: [] },
    });
    for (const x of j.failures)
      ft.push([
        String(x.stage),
        `${x.source_topic}[${x.source_partition}]@${x.source_offset}`,
        String(x.generation ?? '-'),
        `${x.error_class}: ${String(x.error_message).slice(0, 80)}`,
        x.failed_at instanceof Date ? x.failed_at.toISOString() : String(x.failed_at),
      ]);
    out(`stage_failures:\n${ft.toString()}`);
  }
  if (j.databaseNote) out(`PostgreSQL: ${j.databaseNote}`);
  if (row === undefined) return;
  if (row === null) {
    out('no row in PostgreSQL items (not materialized yet?)');
    return;
  }
  const t = new Table({ style: { head: [], border: [] } });
  for (const [k, v] of Object.entries(row))
    if (v !== null) t.push({ [k]: v instanceof Date ? v.toISOString() : String(v) });
  out(`PostgreSQL items row:\n${t.toString()}`);
}
