import type { SchemaReference } from './avro.ts';
import { checkCompatibility } from './compatibility.ts';
import { Errors } from './errors.ts';
import { LATEST, parseVersion, type SchemaRequest, validateSubject } from './request.ts';
import { getGlobalCompatibility, getSubjectCompatibility } from './settings.ts';
import { entity, type RegistryStore, type Row, type SchemaEntity } from './store.ts';

// Reads: lookups by subject, version and id, and the compatibility test (which writes nothing).

/** POST /subjects/{s}: is this schema registered under the subject? */
export async function lookup(
  store: RegistryStore,
  subject: string,
  body: SchemaRequest,
  includeDeleted: boolean,
): Promise<SchemaEntity> {
  let req: Awaited<ReturnType<RegistryStore['parseRequest']>>;
  try {
    req = await store.parseRequest(body);
  } catch (e) {
    // Confluent answers "no such subject" before looking at the schema
    if (!(await store.hasSubject(subject, includeDeleted))) throw Errors.subjectNotFound(subject);
    throw e;
  }
  const rows = await store.rows(
    store.pool,
    `sv.subject = $1 AND s.fingerprint = $2 ${includeDeleted ? '' : 'AND NOT sv.deleted'}`,
    [subject, req.fingerprint],
    'sv.version DESC LIMIT 1',
  );
  const row = rows[0];
  if (row) return entity(row);
  if (!(await store.hasSubject(subject, includeDeleted))) throw Errors.subjectNotFound(subject);
  throw Errors.schemaNotFound();
}

export async function schemaById(
  store: RegistryStore,
  id: number,
): Promise<{ schema: string; schemaType?: string; references?: SchemaReference[] } & Record<string, unknown>> {
  const r = await store.pool.query<{ schema: string; schema_type: string; refs: SchemaReference[] }>(
    `SELECT s.schema, s.schema_type, s.refs FROM ${store.s}.schemas s
      WHERE s.id = $1 AND EXISTS (SELECT 1 FROM ${store.s}.subject_versions sv WHERE sv.schema_id = s.id)`,
    [id],
  );
  const row = r.rows[0];
  if (!row) throw Errors.schemaNotFound(id);
  const out: { schema: string; schemaType?: string; references?: SchemaReference[] } = { schema: row.schema };
  if (row.schema_type !== 'AVRO') out.schemaType = row.schema_type;
  if (row.refs.length > 0) out.references = row.refs;
  return out;
}

export async function versionsOfId(
  store: RegistryStore,
  id: number,
  includeDeleted: boolean,
): Promise<{ subject: string; version: number }[]> {
  const all = await store.rows(store.pool, 'sv.schema_id = $1', [id], 'sv.subject, sv.version');
  if (all.length === 0) throw Errors.schemaNotFound(id);
  return all.filter((r) => includeDeleted || !r.deleted).map((r) => ({ subject: r.subject, version: r.version }));
}

export async function subjectsOfId(store: RegistryStore, id: number, includeDeleted: boolean): Promise<string[]> {
  return [...new Set((await versionsOfId(store, id, includeDeleted)).map((v) => v.subject))];
}

export async function listSubjects(store: RegistryStore, includeDeleted: boolean, prefix = ''): Promise<string[]> {
  if (prefix !== '') validateSubject(prefix);
  const r = await store.pool.query<{ subject: string }>(
    `SELECT DISTINCT subject FROM ${store.s}.subject_versions
      WHERE starts_with(subject, $1) ${includeDeleted ? '' : 'AND NOT deleted'} ORDER BY subject`,
    [prefix],
  );
  return r.rows.map((x) => x.subject);
}

export async function listVersions(store: RegistryStore, subject: string, includeDeleted: boolean): Promise<number[]> {
  const r = await store.pool.query<{ version: number }>(
    `SELECT version FROM ${store.s}.subject_versions WHERE subject = $1 ${includeDeleted ? '' : 'AND NOT deleted'}
      ORDER BY version`,
    [subject],
  );
  if (r.rows.length === 0) throw Errors.subjectNotFound(subject);
  return r.rows.map((x) => x.version);
}

export async function getVersion(
  store: RegistryStore,
  subject: string,
  versionText: string,
  includeDeleted: boolean,
): Promise<SchemaEntity> {
  const v = parseVersion(versionText);
  const del = includeDeleted ? '' : 'AND NOT sv.deleted';
  const rows =
    v === LATEST
      ? await store.rows(store.pool, `sv.subject = $1 ${del}`, [subject], 'sv.version DESC LIMIT 1')
      : await store.rows(store.pool, `sv.subject = $1 AND sv.version = $2 ${del}`, [subject, v]);
  const row = rows[0];
  if (!row) {
    if (!(await store.hasSubject(subject, includeDeleted))) throw Errors.subjectNotFound(subject);
    throw Errors.versionNotFound(v);
  }
  return entity(row);
}

/** GET /subjects/{s}/versions/{v}/referencedby: ids of live schemas that reference this version. */
export async function referencedBy(store: RegistryStore, subject: string, versionText: string): Promise<number[]> {
  const v = await getVersion(store, subject, versionText, true);
  const r = await store.pool.query<{ id: number }>(
    `SELECT DISTINCT s.id FROM ${store.s}.subject_versions sv JOIN ${store.s}.schemas s ON s.id = sv.schema_id
      WHERE NOT sv.deleted AND s.refs @> $1::jsonb ORDER BY s.id`,
    [JSON.stringify([{ subject, version: v.version }])],
  );
  return r.rows.map((x) => x.id);
}

export async function testCompatibility(
  store: RegistryStore,
  subject: string,
  versionText: string | undefined,
  body: SchemaRequest,
): Promise<{ is_compatible: boolean; messages: string[] }> {
  const v = versionText === undefined ? undefined : parseVersion(versionText);
  const req = await store.parseRequest(body);
  const level = (await getSubjectCompatibility(store, subject)) ?? (await getGlobalCompatibility(store));
  let targets: Row[];
  if (v === undefined || v === LATEST) {
    // against the live history: the newest for plain levels, every version for transitive ones;
    // no versions → compatible
    targets = await store.rows(store.pool, 'sv.subject = $1 AND NOT sv.deleted', [subject]);
  } else {
    const rows = await store.rows(store.pool, 'sv.subject = $1 AND sv.version = $2 AND NOT sv.deleted', [subject, v]);
    if (rows.length === 0) {
      if (!(await store.hasSubject(subject, false))) throw Errors.subjectNotFound(subject);
      throw Errors.versionNotFound(v);
    }
    targets = rows;
  }
  const prev = await Promise.all(
    targets.map(async (r) => ({
      type: (await store.parsedRow(r, store.pool)).type,
      version: r.version,
      schema: r.schema,
    })),
  );
  const result = checkCompatibility(level, req.parsed.type, prev);
  return { is_compatible: result.compatible, messages: result.messages };
}
