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
  /** change notifications from every process (PgApiKeyStore: LISTEN/NOTIFY); without it lookups are not cached */
  subscribe?(onChange: () => void, onLost: (e: unknown) => void): Promise<() => Promise<void>>;
}

export const KEY_PREFIX = 'fl_';

/** A new random key (shown once) and what is stored: its hash and a recognisable prefix. */
export function generateApiKey(): { key: string; hash: string; prefix: string } {
  const key = `${KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
  return { key, hash: hashApiKey(key), prefix: key.slice(0, 10) };
}

export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

/** `admin` covers everything; `read` is its own scope (a write-only key cannot read when reads are private). */
export function hasScope(key: ApiKey, scope: Scope): boolean {
  return key.scopes.includes('admin') || key.scopes.includes(scope);
}

/** What `apikey list` shows: never the key or its hash. */
export interface ApiKeyListing {
  id: string;
  name: string;
  prefix: string | null;
  scopes: string[];
  rate_limit_per_minute: number;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

/** PostgreSQL channel migration 0005's trigger notifies on every change to api_keys. */
export const API_KEYS_CHANNEL = 'feedlog_api_keys';

export class AmbiguousKeyError extends Error {
  constructor(given: string, matches: number) {
    super(`"${given}" matches ${matches} keys; give the key id (feedlog apikey list)`);
    this.name = 'AmbiguousKeyError';
  }
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

  /**
   * Calls `onChange` whenever any API key changes in any process (revoke, rotate, scope edit),
   * through LISTEN on a connection of its own; `onLost` when that connection drops (the caller
   * stops trusting its cache until `subscribe` succeeds again). Resolves to a stop function.
   */
  async subscribe(onChange: () => void, onLost: (e: unknown) => void): Promise<() => Promise<void>> {
    const client = await this.pool.connect();
    let released = false;
    const release = (e?: unknown) => {
      if (released) return;
      released = true;
      client.release(e instanceof Error ? e : true);
    };
    client.on('notification', (n) => {
      if (n.channel === API_KEYS_CHANNEL) onChange();
    });
    client.on('error', (e) => {
      release(e);
      onLost(e);
    });
    await client.query(`LISTEN ${API_KEYS_CHANNEL}`);
    return async () => {
      if (released) return;
      await client.query(`UNLISTEN ${API_KEYS_CHANNEL}`).catch(() => undefined);
      release();
    };
  }

  async create(
    name: string,
    scopes: readonly string[],
    rateLimitPerMinute?: number,
  ): Promise<{ key: string; id: string; prefix: string }> {
    const k = generateApiKey();
    const r = await this.pool.query<{ id: string }>(
      `INSERT INTO api_keys (name, key_hash, key_prefix, scopes, rate_limit_per_minute)
       VALUES ($1, $2, $3, $4, coalesce($5, 600)) RETURNING id`,
      [name, k.hash, k.prefix, scopes, rateLimitPerMinute ?? null],
    );
    return { key: k.key, id: r.rows[0]!.id, prefix: k.prefix };
  }

  async list(includeRevoked = false): Promise<ApiKeyListing[]> {
    const r = await this.pool.query<ApiKeyListing>(
      `SELECT id::text, name, key_prefix AS prefix, scopes, rate_limit_per_minute,
              to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created_at,
              to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS revoked_at,
              to_char(last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_used_at
       FROM api_keys WHERE $1 OR revoked_at IS NULL ORDER BY created_at, id`,
      [includeRevoked],
    );
    return r.rows;
  }

  /** Revoke by id or by key prefix (unambiguous); the key stops working at once in every API instance. */
  async revoke(idOrPrefix: string): Promise<{ id: string } | undefined> {
    const m = await this.pool.query<{ id: string }>(
      'SELECT id::text FROM api_keys WHERE revoked_at IS NULL AND (id::text = $1 OR key_prefix = $1)',
      [idOrPrefix],
    );
    if (m.rows.length > 1) throw new AmbiguousKeyError(idOrPrefix, m.rows.length);
    if (!m.rows[0]) return undefined;
    const r = await this.pool.query<{ id: string }>(
      'UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id::text',
      [m.rows[0].id],
    );
    return r.rows[0];
  }

  /** A new key with the same name, scopes and limit; the old one is revoked in the same transaction. */
  async rotate(idOrPrefix: string): Promise<{ key: string; id: string; prefix: string; replaced: string } | undefined> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const old = await client.query<{ id: string; name: string; scopes: string[]; rate_limit_per_minute: number }>(
        `UPDATE api_keys SET revoked_at = now()
         WHERE revoked_at IS NULL AND (id::text = $1 OR key_prefix = $1)
         RETURNING id::text, name, scopes, rate_limit_per_minute`,
        [idOrPrefix],
      );
      if (old.rowCount !== 1) {
        await client.query('ROLLBACK');
        if ((old.rowCount ?? 0) > 1) throw new AmbiguousKeyError(idOrPrefix, old.rowCount ?? 0);
        return undefined;
      }
      const o = old.rows[0]!;
      const k = generateApiKey();
      const r = await client.query<{ id: string }>(
        `INSERT INTO api_keys (name, key_hash, key_prefix, scopes, rate_limit_per_minute)
         VALUES ($1, $2, $3, $4, $5) RETURNING id::text`,
        [o.name, k.hash, k.prefix, o.scopes, o.rate_limit_per_minute],
      );
      await client.query('UPDATE api_keys SET replaced_by = $1 WHERE id = $2', [r.rows[0]!.id, o.id]);
      await client.query('COMMIT');
      return { key: k.key, id: r.rows[0]!.id, prefix: k.prefix, replaced: o.id };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
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
    /** why the presented key was refused (answered by enforceAuth, after the rate limit counted the request) */
    authError: Error | undefined;
  }
  interface FastifyContextConfig {
    /** the scope a route needs; routes without one are public (GET /v1/* need `read` unless reads are public) */
    scope?: Scope;
  }
  interface FastifyInstance {
    /** throws the 401/403 a request earned; an onRequest hook run after the rate limit */
    enforceAuth: (req: FastifyRequest) => Promise<void>;
  }
}

export interface AuthOptions {
  store: ApiKeyStore;
  /** GET /v1/* open to callers without a key (default true; API_PUBLIC_READS=false needs the read scope) */
  publicReads?: boolean;
  /** how long a lookup is trusted when the store gives change notifications, ms (a backstop: changes clear it at once) */
  cacheMs?: number;
}

/** The `caller` recorded on jobs and in metric labels: the key id, never the key's name. */
export const callerOf = (req: FastifyRequest): string => req.apiKey?.id ?? 'anonymous';

/**
 * Resolves `x-api-key` on every request and, through `app.enforceAuth`, refuses a presented but
 * unknown key (401 even on public routes, so a typo is never silently anonymous) and a missing
 * scope. Resolution never throws so the rate limit (between the two hooks) counts refused
 * requests too. Lookups are cached only while the store's change notifications are live, so a
 * revoked key stops working at once in every API instance.
 */
export const authPlugin = fp<AuthOptions>(
  async (app: FastifyInstance, opts) => {
    const cacheMs = opts.cacheMs ?? 60_000;
    const publicReads = opts.publicReads !== false;
    const cache = new Map<string, { at: number; key: ApiKey | undefined }>();
    let live = false;
    let stop: (() => Promise<void>) | undefined;
    let connecting: Promise<void> | undefined;
    const listen = () => {
      if (!opts.store.subscribe || live || connecting) return;
      connecting = opts.store
        .subscribe(
          () => cache.clear(),
          (e) => {
            live = false;
            cache.clear();
            app.log.warn({ err: String(e) }, 'API key change notifications lost; lookups uncached until restored');
          },
        )
        .then((s) => {
          stop = s;
          live = true;
        })
        .catch((e: unknown) => app.log.warn({ err: String(e) }, 'cannot listen for API key changes'))
        .finally(() => {
          connecting = undefined;
        });
    };
    listen();
    app.addHook('onClose', async () => {
      await connecting;
      await stop?.();
    });

    app.decorateRequest('apiKey', undefined);
    app.decorateRequest('authError', undefined);
    app.addHook('onRequest', async (req: FastifyRequest) => {
      const header = req.headers['x-api-key'];
      if (header === undefined) return;
      if (typeof header !== 'string' || header.length === 0 || header.length > 200) {
        req.authError = errors.unauthorized('invalid API key');
        return;
      }
      const hash = hashApiKey(header);
      let hit = live ? cache.get(hash) : undefined;
      if (!hit || Date.now() - hit.at > cacheMs) {
        listen();
        let key: ApiKey | undefined;
        try {
          key = await opts.store.lookup(hash);
        } catch (e) {
          req.log.error({ err: String(e) }, 'API key lookup failed');
          throw errors.unavailable('API keys cannot be checked right now; retry shortly');
        }
        hit = { at: Date.now(), key };
        if (live) {
          if (cache.size > 10_000) cache.clear();
          cache.set(hash, hit);
        }
      }
      if (!hit.key) req.authError = errors.unauthorized('invalid API key');
      else req.apiKey = hit.key;
    });

    app.decorate('enforceAuth', async (req: FastifyRequest) => {
      if (req.authError) throw req.authError;
      const configured = req.routeOptions.config?.scope;
      const scope =
        configured ??
        (!publicReads && (req.method === 'GET' || req.method === 'HEAD') && req.routeOptions.url?.startsWith('/v1/')
          ? 'read'
          : undefined);
      if (!scope) return;
      if (!req.apiKey) throw errors.unauthorized();
      if (!hasScope(req.apiKey, scope)) throw errors.forbidden(`this route needs the ${scope} scope`);
    });
  },
  { name: 'feedlog-auth' },
);
