import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type pg from 'pg';
import { errors } from '../errors.ts';

export interface Db {
  pool: pg.Pool | undefined;
  /** the pool, or a 503 naming PostgreSQL when none is configured */
  required(): pg.Pool;
  /** whether a relation (table or view) exists in the search path; cached once true */
  has(relation: string): Promise<boolean>;
}

declare module 'fastify' {
  interface FastifyInstance {
    db: Db;
  }
}

export const pgPlugin = fp<{ pool?: pg.Pool; closePool?: boolean }>(
  async (app: FastifyInstance, opts) => {
    const pool = opts.pool;
    const present = new Set<string>();
    const db: Db = {
      pool,
      required() {
        if (!pool) throw errors.unavailable('PostgreSQL is not configured for this API');
        return pool;
      },
      async has(relation) {
        if (!pool) return false;
        if (present.has(relation)) return true;
        const r = await pool.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [relation]);
        if (r.rows[0]?.t) present.add(relation);
        return Boolean(r.rows[0]?.t);
      },
    };
    app.decorate('db', db);
    if (pool && opts.closePool !== false) app.addHook('onClose', async () => pool.end());
  },
  { name: 'feedlog-pg' },
);

/** Run a query; a connection-level failure becomes a 503 naming PostgreSQL (the cause goes to the log). */
export async function query<R extends pg.QueryResultRow>(
  app: FastifyInstance,
  text: string,
  values: unknown[] = [],
  /** a prepared statement's name: each connection parses and plans it once (hot statements only) */
  name?: string,
): Promise<pg.QueryResult<R>> {
  const pool = app.db.required();
  try {
    return await (name ? pool.query<R>({ name, text, values }) : pool.query<R>(text, values));
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    // SQLSTATE classes 08 (connection), 53 (resources), 57 (operator intervention) are outages
    if (/^(08|53|57)/.test(code) || !code) {
      app.log.error({ err: e }, 'PostgreSQL query failed');
      throw errors.unavailable('PostgreSQL is unavailable; retry shortly');
    }
    // class 22 (data exception: a value PostgreSQL cannot hold) is the caller's input; validation
    // should have caught it, so log it as a gap, but answer 400 without PostgreSQL's message
    if (code.startsWith('22')) {
      app.log.warn({ sqlstate: code }, 'PostgreSQL refused a value validation let through');
      throw errors.invalidRequest({ sqlstate: code }, 'a parameter has a value the database cannot store');
    }
    if (code === '42P01') {
      app.log.error({ err: e }, 'a relation is missing');
      throw errors.unavailable('the PostgreSQL schema is not migrated (run `feedlog migrate`)');
    }
    throw e;
  }
}
