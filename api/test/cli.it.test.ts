import { migrate } from '@feedlog/migrations';
import { databaseUrlOnSchema } from '@feedlog/test';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { hashApiKey } from '../src/auth.ts';
import { registerApiCommands } from '../src/cli.ts';

describe('feedlog apikey create (real PostgreSQL)', () => {
  const schema = databaseUrlOnSchema('apicli', migrate);

  async function run(...args: string[]): Promise<{ out: string[]; code: number }> {
    const out: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    const prev = process.exitCode;
    process.exitCode = 0;
    try {
      const program = new Command().exitOverride();
      registerApiCommands(program);
      await program.parseAsync(['node', 'feedlog', ...args]);
      return { out, code: Number(process.exitCode ?? 0) };
    } finally {
      process.exitCode = prev;
      log.mockRestore();
      err.mockRestore();
    }
  }

  it('prints the key once and stores only its hash with the scopes', async () => {
    const { out, code } = await run('apikey', 'create', 'ingest-bot', '--scopes', 'write,admin', '--json');
    expect(code).toBe(0);
    const created = JSON.parse(out[0]!);
    expect(created.key).toMatch(/^fl_[A-Za-z0-9_-]{32}$/);
    const rows = (await schema().pool.query('SELECT name, key_hash, key_prefix, scopes FROM api_keys')).rows;
    expect(rows).toEqual([
      {
        name: 'ingest-bot',
        key_hash: hashApiKey(created.key),
        key_prefix: created.key.slice(0, 10),
        scopes: ['write', 'admin'],
      },
    ]);
    // the key itself is nowhere in the table
    const dump = JSON.stringify((await schema().pool.query('SELECT * FROM api_keys')).rows);
    expect(dump).not.toContain(created.key);
  });

  it('refuses unknown scopes', async () => {
    const { out, code } = await run('apikey', 'create', 'x', '--scopes', 'write,root');
    expect(code).toBe(2);
    expect(out.join('\n')).toMatch(/root/);
  });

  it('list shows ids and prefixes, revoke and rotate take an id or a prefix', async () => {
    const created = JSON.parse((await run('apikey', 'create', 'to-rotate', '--json')).out[0]!);
    expect(created.scopes).toEqual(['read', 'write']);
    const listed = await run('apikey', 'list', '--json');
    const rows = JSON.parse(listed.out[0]!) as { id: string; prefix: string; name: string }[];
    expect(rows.find((r) => r.id === created.id)).toMatchObject({ prefix: created.prefix, name: 'to-rotate' });
    expect(listed.out.join('')).not.toContain(created.key);
    const rotated = await run('apikey', 'rotate', created.prefix, '--json');
    expect(rotated.code).toBe(0);
    const fresh = JSON.parse(rotated.out[0]!);
    expect(fresh.replaced).toBe(created.id);
    const revoked = await run('apikey', 'revoke', fresh.id);
    expect(revoked).toMatchObject({ code: 0, out: [`revoked API key ${fresh.id}`] });
    expect((await run('apikey', 'revoke', fresh.id)).code).toBe(1);
    const all = JSON.parse((await run('apikey', 'list', '--all', '--json')).out[0]!) as { revoked_at: string | null }[];
    expect(all.filter((r) => r.revoked_at !== null).length).toBeGreaterThanOrEqual(2);
    const table = await run('apikey', 'list');
    expect(table.out.join('\n')).toMatch(/prefix/);
  });
});
