import type pg from 'pg';
import { type CompatibilityLevel, parseCompatibilityLevel } from './compatibility.ts';
import { Errors } from './errors.ts';
import { validateSubject } from './request.ts';
import type { RegistryStore } from './store.ts';

// Compatibility levels and modes, global (subject '') and per subject.

export const MODES = ['READWRITE', 'READONLY', 'READONLY_OVERRIDE', 'IMPORT'] as const;
export type Mode = (typeof MODES)[number];
export const DEFAULT_COMPATIBILITY: CompatibilityLevel = 'BACKWARD';

export async function getGlobalCompatibility(
  store: RegistryStore,
  q: pg.Pool | pg.PoolClient = store.pool,
): Promise<CompatibilityLevel> {
  const r = await q.query<{ compatibility: string }>(`SELECT compatibility FROM ${store.s}.config WHERE subject = ''`);
  return parseCompatibilityLevel(r.rows[0]?.compatibility) ?? DEFAULT_COMPATIBILITY;
}

export async function getSubjectCompatibility(
  store: RegistryStore,
  subject: string,
  q: pg.Pool | pg.PoolClient = store.pool,
): Promise<CompatibilityLevel | undefined> {
  const r = await q.query<{ compatibility: string }>(`SELECT compatibility FROM ${store.s}.config WHERE subject = $1`, [
    subject,
  ]);
  return parseCompatibilityLevel(r.rows[0]?.compatibility);
}

export async function setCompatibility(
  store: RegistryStore,
  subject: string | null,
  level: CompatibilityLevel,
): Promise<void> {
  if (subject !== null) validateSubject(subject);
  await store.pool.query(
    `INSERT INTO ${store.s}.config (subject, compatibility) VALUES ($1, $2)
     ON CONFLICT (subject) DO UPDATE SET compatibility = EXCLUDED.compatibility`,
    [subject ?? '', level],
  );
}

/** Deletes the level; returns the previous one (undefined when none was set). */
export async function deleteCompatibility(
  store: RegistryStore,
  subject: string | null,
): Promise<CompatibilityLevel | undefined> {
  const r = await store.pool.query<{ compatibility: string }>(
    `DELETE FROM ${store.s}.config WHERE subject = $1 RETURNING compatibility`,
    [subject ?? ''],
  );
  return parseCompatibilityLevel(r.rows[0]?.compatibility);
}

/** The mode in force for `subject` (its own, else the global one); the global mode when subject is null. */
export async function getMode(
  store: RegistryStore,
  subject: string | null = null,
  q: pg.Pool | pg.PoolClient = store.pool,
): Promise<Mode> {
  const r = await q.query<{ mode: Mode | null }>(
    `SELECT COALESCE((SELECT mode FROM ${store.s}.mode WHERE subject = $1),
                     (SELECT mode FROM ${store.s}.mode WHERE subject = '')) AS mode`,
    [subject ?? ''],
  );
  return r.rows[0]?.mode ?? 'READWRITE';
}

export async function getSubjectMode(store: RegistryStore, subject: string): Promise<Mode | undefined> {
  const r = await store.pool.query<{ mode: Mode }>(`SELECT mode FROM ${store.s}.mode WHERE subject = $1`, [subject]);
  return r.rows[0]?.mode;
}

export async function setMode(store: RegistryStore, subject: string | null, mode: Mode, force: boolean): Promise<void> {
  if (subject !== null) validateSubject(subject);
  if (mode === 'IMPORT' && !force) {
    const any = await store.pool.query(
      `SELECT 1 FROM ${store.s}.subject_versions WHERE ($1 = '' OR subject = $1) LIMIT 1`,
      [subject ?? ''],
    );
    if (any.rowCount) throw Errors.notPermitted('Cannot import since found existing subjects');
  }
  await store.pool.query(
    `INSERT INTO ${store.s}.mode (subject, mode) VALUES ($1, $2) ON CONFLICT (subject) DO UPDATE SET mode = EXCLUDED.mode`,
    [subject ?? '', mode],
  );
}

export async function deleteSubjectMode(store: RegistryStore, subject: string): Promise<Mode | undefined> {
  const r = await store.pool.query<{ mode: Mode }>(`DELETE FROM ${store.s}.mode WHERE subject = $1 RETURNING mode`, [
    subject,
  ]);
  return r.rows[0]?.mode;
}
