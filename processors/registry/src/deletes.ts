import type pg from 'pg';
import { Errors } from './errors.ts';
import { LATEST, parseVersion } from './request.ts';
import { getMode } from './settings.ts';
import type { RegistryStore } from './store.ts';

// Soft and permanent deletes of subjects and versions, refused while a live schema references them.

async function assertNotReferenced(
  store: RegistryStore,
  c: pg.PoolClient,
  subject: string,
  versions: number[],
): Promise<void> {
  for (const version of versions) {
    const r = await c.query<{ id: number }>(
      `SELECT s.id FROM ${store.s}.subject_versions sv JOIN ${store.s}.schemas s ON s.id = sv.schema_id
        WHERE NOT sv.deleted AND s.refs @> $1::jsonb LIMIT 1`,
      [JSON.stringify([{ subject, version }])],
    );
    const by = r.rows[0];
    if (by) {
      throw Errors.referenceExists(
        `One or more references exist to the schema {subject=${subject}, version=${version}} (schema id ${by.id}).`,
      );
    }
  }
}

/** Under the subject lock, in a writable mode: the subject's versions (subject not found when none). */
async function lockedVersions(
  store: RegistryStore,
  c: pg.PoolClient,
  subject: string,
): Promise<{ version: number; deleted: boolean }[]> {
  await store.lockSubject(c, subject);
  const mode = await getMode(store, subject, c);
  if (mode === 'READONLY' || mode === 'READONLY_OVERRIDE') {
    throw Errors.notPermitted(`Subject ${subject} is in read-only mode`);
  }
  const r = await c.query<{ version: number; deleted: boolean }>(
    `SELECT version, deleted FROM ${store.s}.subject_versions WHERE subject = $1 ORDER BY version`,
    [subject],
  );
  if (r.rows.length === 0) throw Errors.subjectNotFound(subject);
  return r.rows;
}

export async function deleteSubject(store: RegistryStore, subject: string, permanent: boolean): Promise<number[]> {
  return store.tx(async (c) => {
    const rows = await lockedVersions(store, c, subject);
    const live = rows.filter((x) => !x.deleted).map((x) => x.version);
    if (permanent) {
      if (live.length > 0) throw Errors.subjectNotSoftDeleted(subject);
      const all = rows.map((x) => x.version);
      await assertNotReferenced(store, c, subject, all);
      await c.query(`DELETE FROM ${store.s}.subject_versions WHERE subject = $1`, [subject]);
      await c.query(`DELETE FROM ${store.s}.config WHERE subject = $1`, [subject]);
      return all;
    }
    if (live.length === 0) throw Errors.subjectSoftDeleted(subject);
    await assertNotReferenced(store, c, subject, live);
    await c.query(`UPDATE ${store.s}.subject_versions SET deleted = true WHERE subject = $1 AND NOT deleted`, [
      subject,
    ]);
    return live;
  });
}

export async function deleteVersion(
  store: RegistryStore,
  subject: string,
  versionText: string,
  permanent: boolean,
): Promise<number> {
  const v = parseVersion(versionText);
  return store.tx(async (c) => {
    const rows = await lockedVersions(store, c, subject);
    const row =
      v === LATEST
        ? (rows.filter((x) => permanent || !x.deleted).at(-1) ?? undefined)
        : rows.find((x) => x.version === v);
    if (!row) {
      if (v === LATEST) throw Errors.subjectNotFound(subject);
      throw Errors.versionNotFound(v);
    }
    if (permanent && !row.deleted) throw Errors.versionNotSoftDeleted(subject, row.version);
    if (!permanent && row.deleted) throw Errors.versionSoftDeleted(subject, row.version);
    await assertNotReferenced(store, c, subject, [row.version]);
    if (permanent) {
      await c.query(`DELETE FROM ${store.s}.subject_versions WHERE subject = $1 AND version = $2`, [
        subject,
        row.version,
      ]);
    } else {
      await c.query(`UPDATE ${store.s}.subject_versions SET deleted = true WHERE subject = $1 AND version = $2`, [
        subject,
        row.version,
      ]);
    }
    return row.version;
  });
}
