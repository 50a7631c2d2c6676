import { loadConfig } from '@feedlog/common';
import Table from 'cli-table3';
import type { Command } from 'commander';
import pg from 'pg';
import { AmbiguousKeyError, PgApiKeyStore } from './auth.ts';
import { serveApi } from './server.ts';

const validScopes = new Set(['read', 'write', 'admin']);

async function withStore<T>(fn: (store: PgApiKeyStore) => Promise<T>): Promise<T | undefined> {
  const pool = new pg.Pool({ connectionString: loadConfig().postgres.url, max: 1 });
  pool.on('error', () => undefined);
  try {
    return await fn(new PgApiKeyStore(pool));
  } catch (e) {
    if (!(e instanceof AmbiguousKeyError)) throw e;
    console.error(e.message);
    process.exitCode = 2;
    return undefined;
  } finally {
    await pool.end();
  }
}

/** `feedlog apikey create|list|revoke|rotate` and `feedlog serve`. */
export function registerApiCommands(program: Command): void {
  const apikey = program.command('apikey').description('API keys (only their SHA-256 is stored)');
  apikey
    .command('create <name>')
    .description('create a key and print it once')
    .option('--scopes <list>', 'comma-separated: read, write, admin', 'read,write')
    .option('--rate-limit <n>', 'requests per minute for this key', (v) => Number.parseInt(v, 10))
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { scopes: string; rateLimit?: number; json?: boolean }) => {
      const scopes = opts.scopes
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const bad = scopes.filter((s) => !validScopes.has(s));
      if (bad.length || scopes.length === 0) {
        console.error(`unknown scope(s): ${bad.join(', ') || '(none given)'}; use read, write, admin`);
        process.exitCode = 2;
        return;
      }
      if (opts.rateLimit !== undefined && !(opts.rateLimit > 0)) {
        console.error('--rate-limit must be a positive integer');
        process.exitCode = 2;
        return;
      }
      await withStore(async (store) => {
        const { key, id, prefix } = await store.create(name, scopes, opts.rateLimit);
        if (opts.json) console.log(JSON.stringify({ id, name, prefix, scopes, key }));
        else {
          console.log(`created API key ${id} (prefix ${prefix}) for ${name} (scopes: ${scopes.join(', ')})`);
          console.log(`key (shown once, only its hash is stored): ${key}`);
        }
      });
    });

  apikey
    .command('list')
    .description('keys by id, prefix, scopes and use (never the key or its hash)')
    .option('--all', 'include revoked keys')
    .option('--json', 'machine-readable output')
    .action(async (opts: { all?: boolean; json?: boolean }) => {
      const rows = await withStore((store) => store.list(Boolean(opts.all)));
      if (!rows) return;
      if (opts.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      const t = new Table({ head: ['id', 'prefix', 'name', 'scopes', 'per min', 'created', 'last used', 'revoked'] });
      for (const r of rows)
        t.push([
          r.id,
          r.prefix ?? '-',
          r.name,
          r.scopes.join(','),
          r.rate_limit_per_minute,
          r.created_at,
          r.last_used_at ?? '-',
          r.revoked_at ?? '-',
        ]);
      console.log(t.toString());
    });

  apikey
    .command('revoke <idOrPrefix>')
    .description('revoke a key by id or prefix; every running API refuses it at once')
    .option('--json', 'machine-readable output')
    .action(async (idOrPrefix: string, opts: { json?: boolean }) => {
      const r = await withStore((store) => store.revoke(idOrPrefix));
      if (process.exitCode) return;
      if (!r) {
        console.error(`no active key with id or prefix ${idOrPrefix} (feedlog apikey list)`);
        process.exitCode = 1;
        return;
      }
      console.log(opts.json ? JSON.stringify({ revoked: r.id }) : `revoked API key ${r.id}`);
    });

  apikey
    .command('rotate <idOrPrefix>')
    .description('replace a key: a new key with the same name, scopes and limit; the old one is revoked')
    .option('--json', 'machine-readable output')
    .action(async (idOrPrefix: string, opts: { json?: boolean }) => {
      const r = await withStore((store) => store.rotate(idOrPrefix));
      if (process.exitCode) return;
      if (!r) {
        console.error(`no active key with id or prefix ${idOrPrefix} (feedlog apikey list)`);
        process.exitCode = 1;
        return;
      }
      if (opts.json) console.log(JSON.stringify({ id: r.id, prefix: r.prefix, key: r.key, replaced: r.replaced }));
      else {
        console.log(`API key ${r.replaced} revoked; its replacement is ${r.id} (prefix ${r.prefix})`);
        console.log(`key (shown once, only its hash is stored): ${r.key}`);
      }
    });

  program
    .command('serve')
    .description('start the HTTP API (API_PORT, default 8080)')
    .action(async () => {
      serveApi();
      await new Promise(() => undefined); // runProcess ends the process (SIGTERM/SIGINT, deadline)
    });
}
