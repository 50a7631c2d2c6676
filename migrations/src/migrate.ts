import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type pg from 'pg';

/** The folder holding 0001_init.sql, 0002_….sql (this package's root). */
export const migrationsDir = resolve(import.meta.dirname, '..');

const FILE = /^(\d{4})_[a-z0-9_]+\.sql$/;
/** Table recording what was applied (created in the current schema, like every migration). */
export const MIGRATIONS_TABLE = 'schema_migrations';

export interface MigrationFile {
  name: string;
  version: number;
  sql: string;
  checksum: string;
}

export interface MigrationStatus {
  name: string;
  checksum: string;
  /** applied: by this run; present: applied before; pending: would be applied (dry run). */
  state: 'applied' | 'present' | 'pending';
  appliedAt: string | null;
  ms: number | null;
}

export interface MigrateResult {
  dryRun: boolean;
  schema: string;
  migrations: MigrationStatus[];
  applied: string[];
}

export interface MigrateOptions {
  dir?: string;
  dryRun?: boolean;
  log?: (line: string) => void;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
  constructor(
    message: string,
    readonly file: string | null,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** An applied migration's file changed (or vanished): the runner refuses to go on. */
export class MigrationChecksumError extends MigrationError {
  override name = 'MigrationChecksumError';
}

export const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The migration files of `dir`, in version order; refuses duplicate versions and stray .sql names. */
export function readMigrations(dir: string = migrationsDir): MigrationFile[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const out: MigrationFile[] = [];
  for (const name of files) {
    const m = FILE.exec(name);
    if (!m) throw new MigrationError(`${name}: migration files are named NNNN_snake_case.sql`, name);
    const version = Number(m[1]);
    const prev = out.at(-1);
    if (prev && prev.version === version) {
      throw new MigrationError(`${name} and ${prev.name} share version ${m[1]}`, name);
    }
    const sql = readFileSync(join(dir, name), 'utf8');
    out.push({ name, version, sql, checksum: sha256(sql) });
  }
  return out;
}

interface AppliedRow {
  name: string;
  checksum: string;
  applied_at: Date;
}

/** Compare what the database recorded with the files; throws on an edited, missing or out-of-order file. */
export function verifyApplied(files: MigrationFile[], applied: AppliedRow[]): void {
  const byName = new Map(files.map((f) => [f.name, f]));
  for (const row of applied) {
    const f = byName.get(row.name);
    if (!f) {
      throw new MigrationChecksumError(
        `migration ${row.name} was applied (${row.applied_at.toISOString()}) but its file is gone; migrations are forward-only: restore the file`,
        row.name,
      );
    }
    if (f.checksum !== row.checksum) {
      throw new MigrationChecksumError(
        `migration ${row.name} was edited after it was applied (recorded sha256 ${row.checksum.slice(0, 12)}…, file has ${f.checksum.slice(0, 12)}…); restore it and put the change in a new migration`,
        row.name,
      );
    }
  }
  const appliedNames = new Set(applied.map((r) => r.name));
  const lastApplied = files.findLastIndex((f) => appliedNames.has(f.name));
  const hole = files.slice(0, lastApplied + 1).find((f) => !appliedNames.has(f.name));
  if (hole) {
    throw new MigrationError(
      `migration ${hole.name} is older than migrations already applied; give it a number after ${files[lastApplied]!.name}`,
      hole.name,
    );
  }
}

/**
 * Apply the pending migrations in order, each in its own transaction together with its row in
 * schema_migrations (name, sha256, applied_at). An advisory lock keyed on the current schema
 * serialises concurrent runners; the second one waits, then finds nothing to do. Refuses to run
 * when an applied migration's file was edited or removed.
 */
export async function migrate(pool: pg.Pool, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const files = readMigrations(opts.dir);
  const log = opts.log ?? (() => {});
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const { rows } = await client.query<{ schema: string }>('SELECT current_schema() AS schema');
    const schema = rows[0]?.schema;
    if (!schema) throw new MigrationError('no current schema: the search_path names no existing schema', null);
    const lockKey = `feedlog.migrations:${schema}`;
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [lockKey]);
    try {
      const exists = await client.query<{ t: string | null }>(
        "SELECT to_regclass(quote_ident($1) || '.' || quote_ident($2))::text AS t",
        [schema, MIGRATIONS_TABLE],
      );
      if (!exists.rows[0]?.t && !opts.dryRun) {
        await client.query(`CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
          name       text PRIMARY KEY,
          checksum   text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now(),
          duration_ms integer NOT NULL
        )`);
      }
      const applied =
        exists.rows[0]?.t || !opts.dryRun
          ? (await client.query<AppliedRow>(`SELECT name, checksum, applied_at FROM ${MIGRATIONS_TABLE} ORDER BY name`))
              .rows
          : [];
      verifyApplied(files, applied);
      const done = new Map(applied.map((r) => [r.name, r]));
      const statuses: MigrationStatus[] = [];
      const appliedNow: string[] = [];
      for (const f of files) {
        const prior = done.get(f.name);
        if (prior) {
          statuses.push({
            name: f.name,
            checksum: f.checksum,
            state: 'present',
            appliedAt: prior.applied_at.toISOString(),
            ms: null,
          });
          continue;
        }
        if (opts.dryRun) {
          statuses.push({ name: f.name, checksum: f.checksum, state: 'pending', appliedAt: null, ms: null });
          continue;
        }
        const t0 = performance.now();
        await client.query('BEGIN');
        try {
          // The file is the statement list itself (simple query protocol, several statements);
          // the bookkeeping row is parameterised.
          await client.query(f.sql);
          const ms = Math.round(performance.now() - t0);
          const r = await client.query<{ applied_at: Date }>(
            `INSERT INTO ${MIGRATIONS_TABLE} (name, checksum, duration_ms) VALUES ($1, $2, $3) RETURNING applied_at`,
            [f.name, f.checksum, ms],
          );
          await client.query('COMMIT');
          statuses.push({
            name: f.name,
            checksum: f.checksum,
            state: 'applied',
            appliedAt: r.rows[0]!.applied_at.toISOString(),
            ms,
          });
          appliedNow.push(f.name);
          log(`applied ${f.name} in ${ms} ms`);
        } catch (e) {
          await client.query('ROLLBACK').catch(() => {});
          const pgErr = e as { message?: string; position?: string };
          const where = pgErr.position ? ` at ${lineOf(f.sql, Number(pgErr.position))}` : '';
          throw new MigrationError(`migration ${f.name} failed${where}: ${pgErr.message ?? e}`, f.name, { cause: e });
        }
      }
      return { dryRun: Boolean(opts.dryRun), schema, migrations: statuses, applied: appliedNow };
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lockKey]).catch((e: Error) => {
        broken = e;
      });
    }
  } finally {
    client.release(broken);
  }
}

function lineOf(sql: string, position: number): string {
  const before = sql.slice(0, Math.max(0, position - 1));
  return `line ${before.split('\n').length}`;
}
