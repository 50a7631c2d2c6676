import type pg from 'pg';

/** The registry's own forward-only migrations, applied at start under an advisory lock (idempotent). */
export const migrations: { version: number; sql: (s: string) => string }[] = [
  {
    version: 1,
    sql: (s) => `
      CREATE SEQUENCE IF NOT EXISTS ${s}.schema_id_seq AS integer START 1;
      CREATE TABLE IF NOT EXISTS ${s}.schemas (
        id           integer PRIMARY KEY DEFAULT nextval('${s}.schema_id_seq'),
        fingerprint  text NOT NULL UNIQUE,
        schema_type  text NOT NULL DEFAULT 'AVRO',
        schema       text NOT NULL,
        refs         jsonb NOT NULL DEFAULT '[]'::jsonb,
        created_at   timestamptz NOT NULL DEFAULT now()
      );
      ALTER SEQUENCE ${s}.schema_id_seq OWNED BY ${s}.schemas.id;
      CREATE TABLE IF NOT EXISTS ${s}.subject_versions (
        subject     text NOT NULL,
        version     integer NOT NULL CHECK (version > 0),
        schema_id   integer NOT NULL REFERENCES ${s}.schemas (id),
        deleted     boolean NOT NULL DEFAULT false,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (subject, version)
      );
      -- one live version per (subject, schema): the same schema registered twice is the same version
      CREATE UNIQUE INDEX IF NOT EXISTS subject_versions_live_schema
        ON ${s}.subject_versions (subject, schema_id) WHERE NOT deleted;
      CREATE INDEX IF NOT EXISTS subject_versions_schema ON ${s}.subject_versions (schema_id);
      CREATE TABLE IF NOT EXISTS ${s}.config (
        subject        text PRIMARY KEY,   -- '' is the global level
        compatibility  text NOT NULL
      );
      CREATE TABLE IF NOT EXISTS ${s}.mode (
        subject  text PRIMARY KEY,         -- '' is the global mode
        mode     text NOT NULL
      );
    `,
  },
];

export function assertIdentifier(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid PostgreSQL schema name: ${name}`);
  return name;
}

export async function migrate(pool: pg.Pool, pgSchema: string): Promise<number[]> {
  const s = assertIdentifier(pgSchema);
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    // Several registry instances may start together: one migrates, the others wait and find it done.
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`feedlog.registry.migrate.${s}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await client.query<{ version: number }>(`SELECT version FROM ${s}.migrations`)).rows.map((r) => r.version),
    );
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql(s));
        await client.query(`INSERT INTO ${s}.migrations (version) VALUES ($1)`, [m.version]);
        await client.query('COMMIT');
        applied.push(m.version);
      } catch (e) {
        await client.query('ROLLBACK');
        throw e;
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`feedlog.registry.migrate.${s}`]).catch(() => {});
    client.release();
  }
  return applied;
}
