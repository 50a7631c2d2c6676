import { loadConfig } from '@feedlog/common';
import type { Command } from 'commander';
import pg from 'pg';
import { PgApiKeyStore } from './auth.ts';
import { startServer } from './server.ts';

const validScopes = new Set(['read', 'write', 'admin']);

/** `feedlog apikey create <name> [--scopes write,admin]` and `feedlog serve`. */
export function registerApiCommands(program: Command): void {
  const apikey = program.command('apikey').description('API keys (only their SHA-256 is stored)');
  apikey
    .command('create <name>')
    .description('create a key and print it once')
    .option('--scopes <list>', 'comma-separated: read, write, admin', 'write')
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
      const pool = new pg.Pool({ connectionString: loadConfig().postgres.url, max: 1 });
      try {
        const { key, id } = await new PgApiKeyStore(pool).create(name, scopes, opts.rateLimit);
        if (opts.json) console.log(JSON.stringify({ id, name, scopes, key }));
        else {
          console.log(`created API key ${id} for ${name} (scopes: ${scopes.join(', ')})`);
          console.log(`key (shown once, only its hash is stored): ${key}`);
        }
      } finally {
        await pool.end();
      }
    });

  program
    .command('serve')
    .description('start the HTTP API (API_PORT, default 8080)')
    .action(async () => {
      await startServer();
      await new Promise(() => undefined); // until SIGTERM/SIGINT
    });
}
