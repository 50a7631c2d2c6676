import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testSchema } from '@feedlog/test';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MigrationChecksumError,
  MigrationError,
  materializedViews,
  migrate,
  migrationsDir,
  readMigrations,
  refreshViews,
} from '../src/index.ts';

const url = () => process.env.DATABASE_URL!;

/** A copy of the migration files that the test may edit. */
function copyOfMigrations(): string {
  const dir = mkdtempSync(join(tmpdir(), 'feedlog-migrations-'));
  for (const f of readMigrations()) cpSync(join(migrationsDir, f.name), join(dir, f.name));
  return dir;
}

describe('migrate', () => {
  let db: Awaited<ReturnType<typeof testSchema>>;
  beforeAll(async () => {
    db = await testSchema('migrate');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('applies every migration once, records name + sha256, and a second run is a no-op', async () => {
    const files = readMigrations();
    expect(files.length).toBeGreaterThanOrEqual(2);
    const dry = await migrate(db.pool, { dryRun: true });
    expect(dry.migrations.map((m) => m.state)).toEqual(files.map(() => 'pending'));
    const noTable = await db.pool.query("SELECT to_regclass('schema_migrations') AS t");
    expect(noTable.rows[0].t).toBeNull(); // a dry run changes nothing

    const first = await migrate(db.pool);
    expect(first.schema).toBe(db.schema);
    expect(first.applied).toEqual(files.map((f) => f.name));
    const recorded = await db.pool.query('SELECT name, checksum FROM schema_migrations ORDER BY name');
    expect(recorded.rows).toEqual(files.map((f) => ({ name: f.name, checksum: f.checksum })));
    const tables = await db.pool.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`,
      [db.schema],
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        'items',
        'jobs',
        'item_stages',
        'stage_failures',
        'api_keys',
        'generations',
        'consumer_offsets',
      ]),
    );
    const views = await db.pool.query('SELECT matviewname FROM pg_matviews WHERE schemaname = $1 ORDER BY 1', [
      db.schema,
    ]);
    expect(views.rows.map((r) => r.matviewname)).toEqual([...materializedViews].sort());

    const second = await migrate(db.pool);
    expect(second.applied).toEqual([]);
    expect(second.migrations.every((m) => m.state === 'present')).toBe(true);
    const count = await db.pool.query('SELECT count(*)::int AS n FROM schema_migrations');
    expect(count.rows[0].n).toBe(files.length);
  });

  it('refuses to run when an applied migration was edited, naming the file', async () => {
    const dir = copyOfMigrations();
    const target = readMigrations(dir)[0]!.name;
    writeFileSync(join(dir, target), `${readFileSync(join(dir, target), 'utf8')}\n-- a harmless-looking edit\n`);
    const err = await migrate(db.pool, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationChecksumError);
    expect((err as MigrationChecksumError).file).toBe(target);
    expect(String((err as Error).message)).toContain(target);
    // nothing later was applied either
    const count = await db.pool.query('SELECT count(*)::int AS n FROM schema_migrations');
    expect(count.rows[0].n).toBe(readMigrations().length);
  });

  it('applies a new migration in its own transaction; a failing one leaves no trace', async () => {
    const dir = copyOfMigrations();
    writeFileSync(join(dir, '0900_ok.sql'), 'CREATE TABLE t_ok (a int);\nINSERT INTO t_ok VALUES (1);\n');
    writeFileSync(join(dir, '0901_broken.sql'), 'CREATE TABLE t_broken (a int);\nSELEC 1;\n');
    const err = await migrate(db.pool, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as MigrationError).file).toBe('0901_broken.sql');
    expect((err as Error).message).toMatch(/line 2/);
    const names = await db.pool.query('SELECT name FROM schema_migrations ORDER BY name');
    expect(names.rows.map((r) => r.name)).toContain('0900_ok.sql');
    expect(names.rows.map((r) => r.name)).not.toContain('0901_broken.sql');
    expect((await db.pool.query("SELECT to_regclass('t_broken') AS t")).rows[0].t).toBeNull();
    expect((await db.pool.query('SELECT a FROM t_ok')).rows).toEqual([{ a: 1 }]);
  });

  it('two runners racing on a fresh schema: the advisory lock lets exactly one apply each file', async () => {
    const other = await testSchema('migrate-race');
    try {
      const pools = [0, 1, 2].map(
        () => new pg.Pool({ connectionString: url(), max: 1, options: `-c search_path=${other.schema}` }),
      );
      const results = await Promise.all(pools.map((p) => migrate(p)));
      await Promise.all(pools.map((p) => p.end()));
      const appliedBy = results.map((r) => r.applied.length);
      expect(appliedBy.reduce((a, b) => a + b, 0)).toBe(readMigrations().length);
      expect(appliedBy.filter((n) => n > 0)).toHaveLength(1);
    } finally {
      await other.drop();
    }
  });
});

describe('refreshViews', () => {
  let db: Awaited<ReturnType<typeof testSchema>>;
  beforeAll(async () => {
    db = await testSchema('views');
    await migrate(db.pool);
    await db.pool.query("INSERT INTO jobs (id, caller) VALUES ('j1', 'test')");
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** Holds a refresh open in a transaction (its lock is kept until ROLLBACK) while a reader reads. */
  async function readerWhileRefreshing(concurrently: boolean): Promise<'read' | 'blocked'> {
    const refresher = await db.pool.connect();
    const reader = await db.pool.connect();
    try {
      await refresher.query('BEGIN');
      await refresher.query(`REFRESH MATERIALIZED VIEW ${concurrently ? 'CONCURRENTLY' : ''} job_progress`);
      await reader.query("SET statement_timeout = '1500ms'");
      try {
        const r = await reader.query('SELECT job_id FROM job_progress');
        expect(r.rows.length).toBeGreaterThanOrEqual(0);
        return 'read';
      } catch (e) {
        if ((e as { code?: string }).code === '57014') return 'blocked';
        throw e;
      }
    } finally {
      await refresher.query('ROLLBACK');
      reader.release();
      refresher.release();
    }
  }

  it('a reader completes while a CONCURRENTLY refresh is in progress (a plain refresh would block it)', async () => {
    expect(await readerWhileRefreshing(false)).toBe('blocked'); // the test can tell the difference
    expect(await readerWhileRefreshing(true)).toBe('read');
  });

  it('refreshViews refreshes every view and the job shows up', async () => {
    const r = await refreshViews(db.pool);
    expect(r.map((x) => x.view)).toEqual([...materializedViews]);
    const jp = await db.pool.query('SELECT job_id, items, done_ratio::float AS done_ratio FROM job_progress');
    expect(jp.rows).toEqual([{ job_id: 'j1', items: '0', done_ratio: 0 }]);
  });
});
