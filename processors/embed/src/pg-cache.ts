import { bytesToVector, vectorToBytes } from '@feedlog/schemas';
import type pg from 'pg';
import { type CachedEmbedding, cacheKey, type EmbeddingCache } from './cache.ts';

export interface PgEmbeddingCacheOptions {
  /** rows kept at most (default 1,000,000 ≈ 2.1 GB at 384 dims, bench/embed-cache.ts); the least recently used go first */
  maxRows?: number;
  /** check the bound at most this often, after a write (default 60 s) */
  evictEveryMs?: number;
  /** a hit refreshes `used_at` only when it is older than this (default 1 h): reads stay reads */
  touchAfterMs?: number;
  /** clock (tests) */
  now?: () => number;
}

/** rows deleted per statement when evicting */
const EVICT_CHUNK = 5_000;
/** below this many rows (by PostgreSQL's estimate) the table is counted exactly */
const EXACT_COUNT_BELOW = 100_000;

/** the bound could not be enforced this time (the write before it succeeded) */
export class EvictionError extends Error {
  override name = 'EvictionError';
}

interface Row {
  key: Buffer;
  dims: number;
  normalized: boolean;
  served_model: string;
  vector: Buffer;
  used_at: Date;
}

/**
 * The embedding cache in PostgreSQL (`embedding_cache`, migration 0006): survives restarts, is
 * shared by every process on the database, one round trip per batch each way.
 *
 * - read: `WHERE key = ANY($1)` on the primary key; hits whose `used_at` is older than
 *   `touchAfterMs` get it refreshed (one UPDATE, only for those).
 * - write: one `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING` per batch (two processes
 *   embedding the same text write the same row; the first stays).
 * - bound: after a write, at most every `evictEveryMs`, the rows beyond `maxRows` are deleted
 *   oldest `used_at` first, in chunks, by one process at a time (a transaction-scoped advisory
 *   lock); the row count is PostgreSQL's estimate for large tables (see rowCount).
 */
export class PgEmbeddingCache implements EmbeddingCache {
  readonly maxRows: number;
  private readonly evictEveryMs: number;
  private readonly touchAfterMs: number;
  private readonly now: () => number;
  private lastEvict = 0;
  private evicting: Promise<number> | undefined;

  constructor(
    readonly pool: pg.Pool,
    opts: PgEmbeddingCacheOptions = {},
  ) {
    this.maxRows = opts.maxRows ?? 1_000_000;
    this.evictEveryMs = opts.evictEveryMs ?? 60_000;
    this.touchAfterMs = opts.touchAfterMs ?? 3_600_000;
    this.now = opts.now ?? Date.now;
  }

  /** true when the table exists in the connection's schema (migrated) */
  async available(): Promise<boolean> {
    const r = await this.pool.query<{ t: string | null }>(`SELECT to_regclass('embedding_cache')::text AS t`);
    return r.rows[0]?.t != null;
  }

  async getMany(model: string, texts: readonly string[]): Promise<(CachedEmbedding | undefined)[]> {
    if (texts.length === 0) return [];
    const keys = texts.map((t) => cacheKey(model, t));
    const r = await this.pool.query<Row>(
      `SELECT key, dims, normalized, served_model, vector, used_at FROM embedding_cache WHERE key = ANY($1::bytea[])`,
      [keys],
    );
    const byKey = new Map(r.rows.map((row) => [row.key.toString('base64'), row]));
    const stale = r.rows.filter((row) => this.now() - row.used_at.getTime() > this.touchAfterMs).map((row) => row.key);
    if (stale.length)
      await this.pool.query(`UPDATE embedding_cache SET used_at = now() WHERE key = ANY($1::bytea[])`, [stale]);
    return keys.map((k) => {
      const row = byKey.get(k.toString('base64'));
      if (!row || row.vector.length !== row.dims * 4) return undefined;
      return { vector: bytesToVector(row.vector), normalized: row.normalized, servedModel: row.served_model };
    });
  }

  async putMany(model: string, entries: readonly { text: string; embedding: CachedEmbedding }[]): Promise<void> {
    if (entries.length === 0) return;
    await this.pool.query(
      `INSERT INTO embedding_cache (key, model, served_model, dims, normalized, vector)
       SELECT k, $2, s, d, n, v FROM unnest($1::bytea[], $3::text[], $4::int[], $5::bool[], $6::bytea[]) AS u(k, s, d, n, v)
       ON CONFLICT (key) DO NOTHING`,
      [
        entries.map((e) => cacheKey(model, e.text)),
        model,
        entries.map((e) => e.embedding.servedModel),
        entries.map((e) => e.embedding.vector.length),
        entries.map((e) => e.embedding.normalized),
        entries.map((e) => vectorToBytes(e.embedding.vector)),
      ],
    );
    if (this.now() - this.lastEvict >= this.evictEveryMs && !this.evicting) {
      this.lastEvict = this.now();
      this.evicting = this.evict().finally(() => {
        this.evicting = undefined;
      });
      // the rows are written; a failed eviction is retried on a later write, and says what it was
      await this.evicting.catch((e: unknown) => {
        throw new EvictionError(`embedding cache eviction failed: ${(e as Error)?.message ?? e}`, { cause: e });
      });
    }
  }

  /** delete the least recently used rows beyond maxRows; returns how many went (0 when another process holds the lock) */
  async evict(): Promise<number> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const lock = await c.query<{ ok: boolean }>(
        `SELECT pg_try_advisory_xact_lock(hashtextextended('feedlog.embedding_cache.evict:' || current_schema(), 0)) AS ok`,
      );
      if (!lock.rows[0]?.ok) {
        await c.query('ROLLBACK');
        return 0;
      }
      let over = (await this.rowCount(c)) - this.maxRows;
      let deleted = 0;
      // in chunks: each statement stays short (the stage's pool has a statement timeout)
      while (over > 0) {
        const d = await c.query(
          `DELETE FROM embedding_cache WHERE key IN (SELECT key FROM embedding_cache ORDER BY used_at, key LIMIT $1)`,
          [Math.min(over, EVICT_CHUNK)],
        );
        const n = d.rowCount ?? 0;
        if (n === 0) break;
        deleted += n;
        over -= n;
      }
      await c.query('COMMIT');
      return deleted;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  /**
   * Rows in the table: PostgreSQL's own estimate (pg_class.reltuples, kept by autovacuum) once the
   * table is large, so a check does not scan gigabytes; an exact count while it is small (or never
   * analysed). The bound is therefore exact for small tables and within the estimate's error for
   * large ones.
   */
  private async rowCount(c: pg.PoolClient): Promise<number> {
    const est = await c.query<{ n: number }>(
      `SELECT reltuples::float8 AS n FROM pg_class WHERE oid = 'embedding_cache'::regclass`,
    );
    const n = Number(est.rows[0]?.n ?? -1);
    if (n >= EXACT_COUNT_BELOW) return n;
    const exact = await c.query<{ n: string }>(`SELECT count(*)::bigint AS n FROM embedding_cache`);
    return Number(exact.rows[0]?.n ?? 0);
  }

  /** the pool is the caller's: closing the cache leaves it open */
  async close(): Promise<void> {
    await this.evicting?.catch(() => undefined);
  }
}
