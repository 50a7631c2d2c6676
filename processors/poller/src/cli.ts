import { loadConfig } from '@feedlog/common';
import Table from 'cli-table3';
import type { Command } from 'commander';
import pg from 'pg';
import { describeSchedule, parseSchedule, ScheduleError } from './schedule.ts';
import { type Feed, FeedExistsError, FeedStore } from './store.ts';

interface Json {
  json?: boolean;
}

function print(rows: Record<string, unknown>[], opts: Json): void {
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (!rows.length) {
    process.stdout.write('no feeds\n');
    return;
  }
  const cols = Object.keys(rows[0]!);
  const t = new Table({ head: cols, style: { head: [], border: [] } });
  for (const r of rows) t.push(cols.map((c) => (r[c] === null || r[c] === undefined ? '-' : String(r[c]))));
  process.stdout.write(`${t.toString()}\n`);
}

const row = (f: Feed) => ({
  id: f.id,
  name: f.name,
  url: f.url,
  schedule: describeSchedule(f.schedule),
  enabled: f.enabled ? 'yes' : 'paused',
  next_due: f.nextDueAt,
  last_success: f.lastSuccessAt,
  failures: f.consecutiveFailures,
  last_error: f.lastError,
  items_seen: f.itemsSeen,
});

/** Run `fn` with a store on DATABASE_URL; a usage problem becomes a message and exit code 2, not a stack. */
async function withStore(fn: (s: FeedStore) => Promise<void>): Promise<void> {
  const pool = new pg.Pool({ connectionString: loadConfig().postgres.url, max: 2 });
  try {
    await fn(new FeedStore(pool));
  } catch (e) {
    if (
      e instanceof ScheduleError ||
      e instanceof FeedExistsError ||
      e instanceof TypeError ||
      e instanceof UsageError
    ) {
      process.stderr.write(`feedlog feeds: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    if ((e as { code?: string }).code === '42P01') {
      process.stderr.write('feedlog feeds: the feeds table is missing: run `feedlog migrate`\n');
      process.exitCode = 1;
      return;
    }
    throw e;
  } finally {
    await pool.end();
  }
}

class UsageError extends Error {}

async function mustGet(s: FeedStore, ref: string): Promise<Feed> {
  const f = await s.get(ref);
  if (!f) throw new UsageError(`no feed ${ref} (give its id or its URL; \`feedlog feeds list\` shows them)`);
  return f;
}

/** `feedlog feeds add|list|show|remove|pause|resume|poll-now`: the feed registry the poller polls. */
export function registerFeedCommands(program: Command): void {
  const feeds = program.command('feeds').description('the feed registry the poller polls (RSS/Atom)');
  feeds
    .command('add <url>')
    .description('register a feed: --every 15m, or --cron "0 0 7,10,13,16,19,22 * * 1-6" --tz Europe/Berlin')
    .option('--name <name>', 'display name (default: the host)')
    .option('--source <id>', 'source id in item ids (default: the host, so feeds of one publisher share guids)')
    .option('--every <interval>', 'poll interval: 90s, 15m, 1h', '15m')
    .option('--cron <expr>', 'six-field cron (seconds first), instead of --every')
    .option('--tz <zone>', 'time zone of --cron', 'UTC')
    .option('--paused', 'register without polling')
    .option('--json', 'machine-readable output')
    .action(
      async (
        url: string,
        o: { name?: string; source?: string; every: string; cron?: string; tz: string; paused?: boolean } & Json,
      ) =>
        withStore(async (s) => {
          if (!/^https?:\/\//i.test(url)) throw new UsageError(`${url} is not an http(s) URL`);
          const schedule = parseSchedule(o.cron ?? o.every, o.tz);
          const f = await s.add({
            url,
            schedule,
            ...(o.name ? { name: o.name } : {}),
            ...(o.source ? { source: o.source } : {}),
            enabled: !o.paused,
          });
          print([row(f)], o);
        }),
    );
  feeds
    .command('list')
    .description('every feed with its schedule, next due time and health')
    .option('--json', 'machine-readable output')
    .action(async (o: Json) => withStore(async (s) => print((await s.list()).map(row), o)));
  feeds
    .command('show <feed>')
    .description('one feed (id or URL) and its last polls')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o: Json) =>
      withStore(async (s) => {
        const f = await mustGet(s, ref);
        const polls = await s.recentPolls(f.id);
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ feed: f, polls }, null, 2)}\n`);
          return;
        }
        const t = new Table({ style: { head: [], border: [] } });
        for (const [k, v] of Object.entries({
          ...row(f),
          etag: f.etag,
          last_modified: f.lastModified,
          polls: f.polls,
          source: f.source,
        }))
          t.push({ [k]: v === null ? '-' : String(v) });
        process.stdout.write(`${t.toString()}\n`);
        print(
          polls.map((p) => ({
            started: (p.started_at as Date).toISOString(),
            outcome: p.outcome,
            http: p.http_status,
            items: p.items,
            produced: p.produced,
            job: p.job_id,
            error: p.error,
          })),
          {},
        );
      }),
    );
  const simple = (
    name: string,
    description: string,
    run: (s: FeedStore, f: Feed) => Promise<Feed | undefined | boolean>,
  ) =>
    feeds
      .command(`${name} <feed>`)
      .description(description)
      .option('--json', 'machine-readable output')
      .action(async (ref: string, o: Json) =>
        withStore(async (s) => {
          const f = await mustGet(s, ref);
          const r = await run(s, f);
          if (typeof r === 'object') print([row(r)], o);
          else print([{ id: f.id, url: f.url, removed: 'yes' }], o);
        }),
      );
  simple('remove', 'delete a feed (the items it produced stay)', (s, f) => s.remove(f.id));
  simple('pause', 'stop polling a feed', (s, f) => s.setEnabled(f.id, false));
  simple('resume', 'poll a feed again', (s, f) => s.setEnabled(f.id, true));
  simple('poll-now', 'make a feed due now: the running poller takes it on its next pass', (s, f) => s.pollNow(f.id));
}
