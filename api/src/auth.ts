import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type pg from 'pg';
import { errors } from './errors.ts';

export type Scope = 'read' | 'write' | 'admin';

export interface ApiKey {
  id: string;
  name: string;
  scopes: readonly string[];
  rateLimitPerMinute: number;
}

/** Where keys are looked up by the SHA-256 of the presented key (only the hash is stored). */
export interface ApiKeyStore {
  lookup(keyHash: string): Promise<ApiKey | undefined>;
}

export const KEY_PREFIX = 'fl_';

/** A new random key (shown once) and what is stored: its hash and a recognisable prefix. */
export function generateApiKey(): { key: string; hash: string; prefix: string } {
  const key = `${KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
  return { key, hash: hashApiKey(key), prefix: key.slice(0, 10) };
}

export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

export function hasScope(key: ApiKey, scope: Scope): boolean {
  return key.scopes.includes('admin') || key.scopes.includes(scope) || (scope === 'read' && key.scopes.length > 0);
}

export class PgApiKeyStore implements ApiKeyStore {
  constructor(private readonly pool: pg.Pool) {}

  async lookup(keyHash: string): Promise<ApiKey | undefined> {
    const r = await this.pool.query<{ id: string; name: string; scopes: string[]; rate_limit_per_minute: number }>(
      'SELECT id, name, scopes, rate_limit_per_minute FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
      [keyHash],
    );
    const row = r.rows[0];
    if (!row) return undefined;
    // last_used_at is bookkeeping: never let it fail or slow the request
    this.pool.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [row.id]).catch(() => undefined);
    return { id: row.id, name: row.name, scopes: row.scopes, rateLimitPerMinute: row.rate_limit_per_minute };
  }

  async create(
    name: string,
    scopes: readonly string[],
    rateLimitPerMinute?: number,
  ): Promise<{ key: string; id: string }> {
    const k = generateApiKey();
    const r = await this.pool.query<{ id: string }>(
      `INSERT INTO api_keys (name, key_hash, key_prefix, scopes, rate_limit_per_minute)
       VALUES ($1, $2, $3, $4, coalesce($5, 600)) RETURNING id`,
      [name, k.hash, k.prefix, scopes, rateLimitPerMinute ?? null],
    );
    return { key: k.key, id: r.rows[0]!.id };
  }
}

/** Keys held in memory (unit tests, or a fixed key from the environment). */
export class MemoryApiKeyStore implements ApiKeyStore {
  private readonly keys = new Map<string, ApiKey>();
  add(key: string, record: Omit<ApiKey, 'id'> & { id?: string }): this {
    this.keys.set(hashApiKey(key), { id: record.id ?? `mem-${this.keys.size + 1}`, ...record });
    return this;
  }
  async lookup(keyHash: string): Promise<ApiKey | undefined> {
    return this.keys.get(keyHash);
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKey | undefined;
  }
  interface FastifyContextConfig {
    /** the scope a route needs; routes without one are public */
    scope?: Scope;
  }
}

export interface AuthOptions {
  store: ApiKeyStore;
  /** how long a lookup (hit or miss) is trusted, ms */
  cacheMs?: number;
}

/**
 * Resolves `x-api-key` on every request (a presented but unknown key is a 401 even on public
 * routes, so a typo is never silently anonymous) and enforces `config.scope` per route.
 * Lookups are cached briefly by hash so a hot key costs no query per request.
 */
export const authPlugin = fp<AuthOptions>(
  async (app: FastifyInstance, opts) => {
    const cacheMs = opts.cacheMs ?? 30_000;
    const cache = new Map<string, { at: number; key: ApiKey | undefined }>();
    app.decorateRequest('apiKey', undefined);
    app.addHook('onRequest', async (req: FastifyRequest) => {
      const header = req.headers['x-api-key'];
      const scope = req.routeOptions.config?.scope;
      if (header === undefined) {
        if (scope) throw errors.unauthorized();
        return;
      }
      if (typeof header !== 'string' || header.length === 0 || header.length > 200)
        throw errors.unauthorized('invalid API key');
      const hash = hashApiKey(header);
      let hit = cache.get(hash);
      if (!hit || Date.now() - hit.at > cacheMs) {
        let key: ApiKey | undefined;
        try {
          key = await opts.store.lookup(hash);
        } catch (e) {
          req.log.error({ err: e }, 'API key lookup failed');
          throw errors.unavailable('API keys cannot be checked right now; retry shortly');
        }
        hit = { at: Date.now(), key };
        if (cache.size > 10_000) cache.clear();
        cache.set(hash, hit);
      }
      if (!hit.key) throw errors.unauthorized('invalid API key');
      req.apiKey = hit.key;
      if (scope && !hasScope(hit.key, scope)) throw errors.forbidden(`this route needs the ${scope} scope`);
    });
  },
  { name: 'feedlog-auth' },
);
