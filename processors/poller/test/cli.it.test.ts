import { migrate } from '@feedlog/migrations';
import { databaseUrlOnSchema } from '@feedlog/test';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { registerFeedCommands } from '../src/cli.ts';

describe('feedlog feeds (real PostgreSQL)', () => {
  databaseUrlOnSchema('feedscli', migrate);

  async function run(...args: string[]): Promise<{ out: string; err: string; code: number }> {
    let out = '';
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => {
      out += String(c);
      return true;
    });
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => {
      err += String(c);
      return true;
    });
    const prev = process.exitCode;
    process.exitCode = 0;
    try {
      const program = new Command().exitOverride();
      registerFeedCommands(program);
      await program.parseAsync(['node', 'feedlog', 'feeds', ...args]);
      return { out, err, code: Number(process.exitCode ?? 0) };
    } finally {
      process.exitCode = prev;
      o.mockRestore();
      e.mockRestore();
    }
  }

  it('add, list, pause, poll-now, show, remove; usage errors are messages with exit code 2', async () => {
    const added = JSON.parse(
      (
        await run(
          'add',
          'https://www.example.com/world.rss',
          '--cron',
          '0 0 7,10,13,16,19,22 * * 1-6',
          '--tz',
          'Europe/Berlin',
          '--json',
        )
      ).out,
    );
    expect(added[0]).toMatchObject({
      name: 'example.com',
      enabled: 'yes',
      schedule: '0 0 7,10,13,16,19,22 * * 1-6 (Europe/Berlin)',
    });
    const id = String(added[0].id);
    await run('add', 'https://news.example.org/feed', '--every', '5m', '--name', 'Org news');
    const list = JSON.parse((await run('list', '--json')).out);
    expect(list.map((f: { name: string }) => f.name)).toEqual(['example.com', 'Org news']);
    expect(JSON.parse((await run('pause', id, '--json')).out)[0].enabled).toBe('paused');
    expect(JSON.parse((await run('resume', 'https://www.example.com/world.rss', '--json')).out)[0].enabled).toBe('yes');
    const due = JSON.parse((await run('poll-now', id, '--json')).out)[0];
    expect(Math.abs(Date.parse(due.next_due) - Date.now())).toBeLessThan(60_000);
    const shown = JSON.parse((await run('show', id, '--json')).out);
    expect(shown).toMatchObject({ feed: { id: Number(id), source: 'example.com' }, polls: [] });
    expect((await run('show', id)).out).toMatch(/example\.com/);

    const dup = await run('add', 'https://www.example.com/world.rss');
    expect([dup.code, dup.err]).toEqual([
      2,
      'feedlog feeds: a feed with URL https://www.example.com/world.rss exists\n',
    ]);
    const cron5 = await run('add', 'https://x.example/a', '--cron', '0 7 * * *');
    expect(cron5.code).toBe(2);
    expect(cron5.err).toMatch(/six-field cron/);
    const missing = await run('show', '999');
    expect([missing.code, missing.err]).toEqual([
      2,
      'feedlog feeds: no feed 999 (give its id or its URL; `feedlog feeds list` shows them)\n',
    ]);
    expect((await run('add', 'ftp://x.example/a')).code).toBe(2);

    expect(JSON.parse((await run('remove', id, '--json')).out)[0]).toMatchObject({ removed: 'yes' });
    expect(JSON.parse((await run('list', '--json')).out)).toHaveLength(1);
  });
});
