import { jsonDepth } from '@feedlog/common/json-depth';
import type pg from 'pg';
import {
  InvalidSchemaError,
  type ParsedAvro,
  parseAvroSchema,
  type SchemaReference,
  schemaFingerprint,
} from './avro.ts';
import { type CompatibilityLevel, checkCompatibility, parseCompatibilityLevel } from './compatibility.ts';
import { Errors, RegistryError } from './errors.ts';
import { assertIdentifier } from './migrate.ts';

export const MODES = ['READWRITE', 'READONLY', 'READONLY_OVERRIDE', 'IMPORT'] as const;
export type Mode = (typeof MODES)[number];
export const DEFAULT_COMPATIBILITY: CompatibilityLevel = 'BACKWARD';

/** Body of POST /subjects/{s}/versions, POST /subjects/{s} and POST /compatibility/… */
export interface SchemaRequest {
  schema?: unknown;
  schemaType?: unknown;
  references?: unknown;
  id?: unknown;
  version?: unknown;
}

/** The Schema entity Confluent returns (schemaType omitted for AVRO, references when present). */
export interface SchemaEntity {
  subject: string;
  version: number;
  id: number;
  schema: string;
  references?: SchemaReference[];
  schemaType?: string;
}

interface Row {
  subject: string;
  version: number;
  schema_id: number;
  deleted: boolean;
  schema: string;
  schema_type: string;
  refs: SchemaReference[];
}

export interface SchemaLimits {
  /** UTF-8 bytes of a schema string (REGISTRY_MAX_SCHEMA_BYTES) */
  maxSchemaBytes: number;
  /** JSON nesting of a schema string: the Avro parser and the canonical form recurse per level */
  maxSchemaDepth: number;
}
export const DEFAULT_SCHEMA_LIMITS: SchemaLimits = { maxSchemaBytes: 1024 * 1024, maxSchemaDepth: 128 };

/** Size and nesting bounds, checked on the text before any parser or recursive walk sees it. */
function checkSchemaBounds(schema: string, limits: SchemaLimits): void {
  const bytes = Buffer.byteLength(schema, 'utf8');
  if (bytes > limits.maxSchemaBytes)
    throw Errors.invalidSchema(`: ${bytes} bytes; schemas are limited to ${limits.maxSchemaBytes} bytes`);
  if (jsonDepth(schema, limits.maxSchemaDepth) < 0)
    throw Errors.invalidSchema(`: nested deeper than ${limits.maxSchemaDepth} levels`);
}

const MAX_VERSION = 2 ** 31 - 1;
const LATEST = -1;

/** 'latest' | '-1' → -1; 1..2^31-1 → n; anything else → 42202. */
export function parseVersion(v: string): number {
  const t = v.trim();
  if (t.toLowerCase() === 'latest') return LATEST;
  if (!/^-?\d+$/.test(t)) throw Errors.invalidVersion(v);
  const n = Number(t);
  if (n === LATEST) return LATEST;
  if (n < 1 || n > MAX_VERSION) throw Errors.invalidVersion(v);
  return n;
}

function validateSubject(subject: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (!subject || subject.trim() === '' || /[\u0000-\u001f\u007f]/.test(subject)) throw Errors.invalidSubject(subject);
}

function parseReferences(raw: unknown): SchemaReference[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw Errors.invalidSchema('references must be an array');
  return raw.map((r) => {
    const ref = r as Record<string, unknown>;
    const version = typeof ref?.version === 'string' ? Number(ref.version) : ref?.version;
    if (typeof ref?.name !== 'string' || typeof ref.subject !== 'string' || typeof version !== 'number') {
      throw Errors.invalidSchema(`invalid reference ${JSON.stringify(r)}: name, subject and version are required`);
    }
    // checked here, not by PostgreSQL: 1.5, 1e400 or 99999999999 are the client's error (42201), not a store error
    if (!Number.isInteger(version) || (version !== LATEST && (version < 1 || version > MAX_VERSION)))
      throw Errors.invalidSchema(
        `: reference ${ref.name} has version ${String(ref.version)}; a version is an integer in [1, 2^31-1] or -1 (latest)`,
      );
    validateSubject(ref.subject);
    return { name: ref.name, subject: ref.subject, version };
  });
}

function entity(r: Row): SchemaEntity {
  const e: SchemaEntity = { subject: r.subject, version: r.version, id: r.schema_id, schema: r.schema };
  if (r.schema_type !== 'AVRO') e.schemaType = r.schema_type;
  if (r.refs.length > 0) e.references = r.refs;
  return e;
}

export class RegistryService {
  private readonly s: string;
  /** Schema ids are immutable: their parsed form is cached forever. */
  private readonly parsedById = new Map<number, ParsedAvro>();

  constructor(
    private readonly pool: pg.Pool,
    pgSchema = 'registry',
    private readonly limits: SchemaLimits = DEFAULT_SCHEMA_LIMITS,
  ) {
    this.s = assertIdentifier(pgSchema);
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  /** Serialise writers of one subject across every registry instance sharing the database. */
  private async lockSubject(c: pg.PoolClient, subject: string): Promise<void> {
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`feedlog.registry.${this.s}.${subject}`]);
  }

  private async rows(
    q: pg.Pool | pg.PoolClient,
    where: string,
    params: unknown[],
    order = 'sv.version',
  ): Promise<Row[]> {
    const r = await q.query<Row>(
      `SELECT sv.subject, sv.version, sv.schema_id, sv.deleted, s.schema, s.schema_type, s.refs
         FROM ${this.s}.subject_versions sv JOIN ${this.s}.schemas s ON s.id = sv.schema_id
        WHERE ${where} ORDER BY ${order}`,
      params,
    );
    return r.rows;
  }

  // ---- parsing ----------------------------------------------------------------------------------

  /** Schema strings of the references, transitively, dependencies first. */
  private async resolveReferences(
    refs: SchemaReference[],
    q: pg.Pool | pg.PoolClient = this.pool,
    seen = new Set<string>(),
  ): Promise<string[]> {
    const out: string[] = [];
    for (const ref of refs) {
      const key = `${ref.subject}\u0000${ref.version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const rows =
        ref.version === LATEST
          ? await this.rows(q, 'sv.subject = $1 AND NOT sv.deleted', [ref.subject], 'sv.version DESC LIMIT 1')
          : await this.rows(q, 'sv.subject = $1 AND sv.version = $2', [ref.subject, ref.version]);
      const row = rows[0];
      if (!row) {
        throw Errors.invalidSchema(
          `reference ${ref.name} (subject '${ref.subject}', version ${ref.version}) not found`,
        );
      }
      out.push(...(await this.resolveReferences(row.refs, q, seen)), row.schema);
    }
    return out;
  }

  private async parseRequest(
    body: SchemaRequest,
    q: pg.Pool | pg.PoolClient = this.pool,
  ): Promise<{ parsed: ParsedAvro; refs: SchemaReference[]; schemaType: string; fingerprint: string }> {
    const schemaType = body.schemaType === undefined || body.schemaType === null ? 'AVRO' : String(body.schemaType);
    if (schemaType.toUpperCase() !== 'AVRO') throw Errors.invalidSchema(`: unsupported schema type ${schemaType}`);
    if (typeof body.schema !== 'string' || body.schema.trim() === '') throw Errors.invalidSchema(': empty schema');
    checkSchemaBounds(body.schema, this.limits);
    const refs = parseReferences(body.references);
    const referenced = await this.resolveReferences(refs, q);
    let parsed: ParsedAvro;
    try {
      parsed = parseAvroSchema(body.schema, referenced);
    } catch (e) {
      if (e instanceof InvalidSchemaError) throw new RegistryError(422, 42201, e.message);
      throw e;
    }
    return { parsed, refs, schemaType: 'AVRO', fingerprint: schemaFingerprint('AVRO', parsed.canonical, refs) };
  }

  private async parsedRow(row: Row, q: pg.Pool | pg.PoolClient): Promise<ParsedAvro> {
    let p = this.parsedById.get(row.schema_id);
    if (!p) {
      p = parseAvroSchema(row.schema, await this.resolveReferences(row.refs, q));
      this.parsedById.set(row.schema_id, p);
    }
    return p;
  }

  // ---- config and mode --------------------------------------------------------------------------

  async getGlobalCompatibility(q: pg.Pool | pg.PoolClient = this.pool): Promise<CompatibilityLevel> {
    const r = await q.query<{ compatibility: string }>(`SELECT compatibility FROM ${this.s}.config WHERE subject = ''`);
    return parseCompatibilityLevel(r.rows[0]?.compatibility) ?? DEFAULT_COMPATIBILITY;
  }

  async getSubjectCompatibility(
    subject: string,
    q: pg.Pool | pg.PoolClient = this.pool,
  ): Promise<CompatibilityLevel | undefined> {
    const r = await q.query<{ compatibility: string }>(
      `SELECT compatibility FROM ${this.s}.config WHERE subject = $1`,
      [subject],
    );
    return parseCompatibilityLevel(r.rows[0]?.compatibility);
  }

  async setCompatibility(subject: string | null, level: CompatibilityLevel): Promise<void> {
    if (subject !== null) validateSubject(subject);
    await this.pool.query(
      `INSERT INTO ${this.s}.config (subject, compatibility) VALUES ($1, $2)
       ON CONFLICT (subject) DO UPDATE SET compatibility = EXCLUDED.compatibility`,
      [subject ?? '', level],
    );
  }

  /** Deletes the level; returns the previous one (undefined when none was set). */
  async deleteCompatibility(subject: string | null): Promise<CompatibilityLevel | undefined> {
    const r = await this.pool.query<{ compatibility: string }>(
      `DELETE FROM ${this.s}.config WHERE subject = $1 RETURNING compatibility`,
      [subject ?? ''],
    );
    return parseCompatibilityLevel(r.rows[0]?.compatibility);
  }

  /** The mode in force for `subject` (its own, else the global one); the global mode when subject is null. */
  async getMode(subject: string | null = null, q: pg.Pool | pg.PoolClient = this.pool): Promise<Mode> {
    const r = await q.query<{ mode: Mode | null }>(
      `SELECT COALESCE((SELECT mode FROM ${this.s}.mode WHERE subject = $1),
                       (SELECT mode FROM ${this.s}.mode WHERE subject = '')) AS mode`,
      [subject ?? ''],
    );
    return r.rows[0]?.mode ?? 'READWRITE';
  }

  async getSubjectMode(subject: string): Promise<Mode | undefined> {
    const r = await this.pool.query<{ mode: Mode }>(`SELECT mode FROM ${this.s}.mode WHERE subject = $1`, [subject]);
    return r.rows[0]?.mode;
  }

  async setMode(subject: string | null, mode: Mode, force: boolean): Promise<void> {
    if (subject !== null) validateSubject(subject);
    if (mode === 'IMPORT' && !force) {
      const any = await this.pool.query(
        `SELECT 1 FROM ${this.s}.subject_versions WHERE ($1 = '' OR subject = $1) LIMIT 1`,
        [subject ?? ''],
      );
      if (any.rowCount) throw Errors.notPermitted('Cannot import since found existing subjects');
    }
    await this.pool.query(
      `INSERT INTO ${this.s}.mode (subject, mode) VALUES ($1, $2) ON CONFLICT (subject) DO UPDATE SET mode = EXCLUDED.mode`,
      [subject ?? '', mode],
    );
  }

  async deleteSubjectMode(subject: string): Promise<Mode | undefined> {
    const r = await this.pool.query<{ mode: Mode }>(`DELETE FROM ${this.s}.mode WHERE subject = $1 RETURNING mode`, [
      subject,
    ]);
    return r.rows[0]?.mode;
  }

  // ---- register and look up ---------------------------------------------------------------------

  async register(subject: string, body: SchemaRequest): Promise<{ id: number }> {
    validateSubject(subject);
    const req = await this.parseRequest(body);
    const wantedId = body.id === undefined || body.id === null || Number(body.id) < 0 ? undefined : Number(body.id);
    const wantedVersion =
      body.version === undefined || body.version === null || Number(body.version) <= 0
        ? undefined
        : Number(body.version);
    if (wantedId === undefined && wantedVersion === undefined) {
      // Fast path, one round trip and no lock: already live under this subject → same id.
      const fast = await this.pool.query<{ mode: Mode | null; id: number | null }>(
        `SELECT COALESCE((SELECT mode FROM ${this.s}.mode WHERE subject = $1),
                         (SELECT mode FROM ${this.s}.mode WHERE subject = '')) AS mode,
                (SELECT sv.schema_id FROM ${this.s}.subject_versions sv JOIN ${this.s}.schemas s ON s.id = sv.schema_id
                  WHERE sv.subject = $1 AND s.fingerprint = $2 AND NOT sv.deleted LIMIT 1) AS id`,
        [subject, req.fingerprint],
      );
      const row = fast.rows[0];
      if (row?.id != null && row.mode !== 'READONLY' && row.mode !== 'READONLY_OVERRIDE') return { id: row.id };
    }
    return this.tx(async (c) => {
      await this.lockSubject(c, subject);
      // everything the decision needs, in one round trip (under the subject lock)
      const st = (
        await c.query<{
          mode: Mode | null;
          id: number | null;
          live: boolean;
          subject_level: string | null;
          global_level: string | null;
          max_version: number;
        }>(
          `SELECT COALESCE((SELECT mode FROM ${this.s}.mode WHERE subject = $1),
                         (SELECT mode FROM ${this.s}.mode WHERE subject = '')) AS mode,
                  s.id,
                  EXISTS (SELECT 1 FROM ${this.s}.subject_versions sv
                           WHERE sv.subject = $1 AND sv.schema_id = s.id AND NOT sv.deleted) AS live,
                  (SELECT compatibility FROM ${this.s}.config WHERE subject = $1) AS subject_level,
                  (SELECT compatibility FROM ${this.s}.config WHERE subject = '') AS global_level,
                  (SELECT COALESCE(MAX(version), 0) FROM ${this.s}.subject_versions WHERE subject = $1) AS max_version
             FROM (SELECT 1) one LEFT JOIN ${this.s}.schemas s ON s.fingerprint = $2`,
          [subject, req.fingerprint],
        )
      ).rows[0];
      const mode: Mode = st?.mode ?? 'READWRITE';
      if (mode === 'READONLY' || mode === 'READONLY_OVERRIDE') {
        throw Errors.notPermitted(`Subject ${subject} is in read-only mode`);
      }
      if ((wantedId !== undefined || wantedVersion !== undefined) && mode !== 'IMPORT') {
        throw Errors.notPermitted(`Subject ${subject} is not in import mode`);
      }
      let id = st?.id ?? undefined;
      if (id !== undefined && wantedId !== undefined && id !== wantedId) throw Errors.idDoesNotMatch(id, wantedId);
      if (id !== undefined && st?.live) return { id }; // already live under this subject: same id, no new version
      if (mode !== 'IMPORT') {
        const level =
          parseCompatibilityLevel(st?.subject_level) ??
          parseCompatibilityLevel(st?.global_level) ??
          DEFAULT_COMPATIBILITY;
        if (level !== 'NONE' && (st?.max_version ?? 0) > 0) {
          const previous = await this.rows(c, 'sv.subject = $1 AND NOT sv.deleted', [subject]);
          const prev = await Promise.all(
            previous.map(async (r) => ({
              type: (await this.parsedRow(r, c)).type,
              version: r.version,
              schema: r.schema,
            })),
          );
          const result = checkCompatibility(level, req.parsed.type, prev);
          if (!result.compatible) throw Errors.incompatible(subject, result.messages);
        }
      }
      if (id === undefined) {
        if (wantedId !== undefined) {
          const taken = await c.query(`SELECT 1 FROM ${this.s}.schemas WHERE id = $1`, [wantedId]);
          if (taken.rowCount) throw Errors.notPermitted(`Overwrite new schema with id ${wantedId} is not permitted.`);
          await c.query(
            `INSERT INTO ${this.s}.schemas (id, fingerprint, schema_type, schema, refs) VALUES ($1, $2, $3, $4, $5)`,
            [wantedId, req.fingerprint, req.schemaType, req.parsed.canonical, JSON.stringify(req.refs)],
          );
          // keep the sequence ahead of imported ids so they are never handed out again
          await c.query(
            `SELECT setval('${this.s}.schema_id_seq', GREATEST($1::integer, (SELECT last_value FROM ${this.s}.schema_id_seq)))`,
            [wantedId],
          );
          id = wantedId;
        } else {
          const ins = await c.query<{ id: number }>(
            `INSERT INTO ${this.s}.schemas (fingerprint, schema_type, schema, refs) VALUES ($1, $2, $3, $4)
             ON CONFLICT (fingerprint) DO NOTHING RETURNING id`,
            [req.fingerprint, req.schemaType, req.parsed.canonical, JSON.stringify(req.refs)],
          );
          id =
            ins.rows[0]?.id ??
            (
              await c.query<{ id: number }>(`SELECT id FROM ${this.s}.schemas WHERE fingerprint = $1`, [
                req.fingerprint,
              ])
            ).rows[0]?.id;
          if (id === undefined) throw Errors.store('schema row vanished during registration');
        }
        this.parsedById.set(id, req.parsed);
      }
      let version = wantedVersion;
      if (version === undefined) {
        version = (st?.max_version ?? 0) + 1;
      } else {
        const taken = await c.query(`SELECT 1 FROM ${this.s}.subject_versions WHERE subject = $1 AND version = $2`, [
          subject,
          version,
        ]);
        if (taken.rowCount) throw Errors.notPermitted(`Version ${version} of subject ${subject} already exists`);
      }
      await c.query(`INSERT INTO ${this.s}.subject_versions (subject, version, schema_id) VALUES ($1, $2, $3)`, [
        subject,
        version,
        id,
      ]);
      return { id };
    });
  }

  private async hasSubject(subject: string, includeDeleted: boolean): Promise<boolean> {
    const r = await this.pool.query(
      `SELECT 1 FROM ${this.s}.subject_versions WHERE subject = $1 ${includeDeleted ? '' : 'AND NOT deleted'} LIMIT 1`,
      [subject],
    );
    return (r.rowCount ?? 0) > 0;
  }

  /** POST /subjects/{s}: is this schema registered under the subject? */
  async lookup(subject: string, body: SchemaRequest, includeDeleted: boolean): Promise<SchemaEntity> {
    let req: Awaited<ReturnType<RegistryService['parseRequest']>>;
    try {
      req = await this.parseRequest(body);
    } catch (e) {
      // Confluent answers "no such subject" before looking at the schema
      if (!(await this.hasSubject(subject, includeDeleted))) throw Errors.subjectNotFound(subject);
      throw e;
    }
    const rows = await this.rows(
      this.pool,
      `sv.subject = $1 AND s.fingerprint = $2 ${includeDeleted ? '' : 'AND NOT sv.deleted'}`,
      [subject, req.fingerprint],
      'sv.version DESC LIMIT 1',
    );
    const row = rows[0];
    if (row) return entity(row);
    if (!(await this.hasSubject(subject, includeDeleted))) throw Errors.subjectNotFound(subject);
    throw Errors.schemaNotFound();
  }

  // ---- reads ------------------------------------------------------------------------------------

  async schemaById(
    id: number,
  ): Promise<{ schema: string; schemaType?: string; references?: SchemaReference[] } & Record<string, unknown>> {
    const r = await this.pool.query<{ schema: string; schema_type: string; refs: SchemaReference[] }>(
      `SELECT s.schema, s.schema_type, s.refs FROM ${this.s}.schemas s
        WHERE s.id = $1 AND EXISTS (SELECT 1 FROM ${this.s}.subject_versions sv WHERE sv.schema_id = s.id)`,
      [id],
    );
    const row = r.rows[0];
    if (!row) throw Errors.schemaNotFound(id);
    const out: { schema: string; schemaType?: string; references?: SchemaReference[] } = { schema: row.schema };
    if (row.schema_type !== 'AVRO') out.schemaType = row.schema_type;
    if (row.refs.length > 0) out.references = row.refs;
    return out;
  }

  async versionsOfId(id: number, includeDeleted: boolean): Promise<{ subject: string; version: number }[]> {
    const all = await this.rows(this.pool, 'sv.schema_id = $1', [id], 'sv.subject, sv.version');
    if (all.length === 0) throw Errors.schemaNotFound(id);
    return all.filter((r) => includeDeleted || !r.deleted).map((r) => ({ subject: r.subject, version: r.version }));
  }

  async subjectsOfId(id: number, includeDeleted: boolean): Promise<string[]> {
    return [...new Set((await this.versionsOfId(id, includeDeleted)).map((v) => v.subject))];
  }

  async listSubjects(includeDeleted: boolean, prefix = ''): Promise<string[]> {
    if (prefix !== '') validateSubject(prefix);
    const r = await this.pool.query<{ subject: string }>(
      `SELECT DISTINCT subject FROM ${this.s}.subject_versions
        WHERE starts_with(subject, $1) ${includeDeleted ? '' : 'AND NOT deleted'} ORDER BY subject`,
      [prefix],
    );
    return r.rows.map((x) => x.subject);
  }

  async listVersions(subject: string, includeDeleted: boolean): Promise<number[]> {
    const r = await this.pool.query<{ version: number }>(
      `SELECT version FROM ${this.s}.subject_versions WHERE subject = $1 ${includeDeleted ? '' : 'AND NOT deleted'}
        ORDER BY version`,
      [subject],
    );
    if (r.rows.length === 0) throw Errors.subjectNotFound(subject);
    return r.rows.map((x) => x.version);
  }

  async getVersion(subject: string, versionText: string, includeDeleted: boolean): Promise<SchemaEntity> {
    const v = parseVersion(versionText);
    const del = includeDeleted ? '' : 'AND NOT sv.deleted';
    const rows =
      v === LATEST
        ? await this.rows(this.pool, `sv.subject = $1 ${del}`, [subject], 'sv.version DESC LIMIT 1')
        : await this.rows(this.pool, `sv.subject = $1 AND sv.version = $2 ${del}`, [subject, v]);
    const row = rows[0];
    if (!row) {
      if (!(await this.hasSubject(subject, includeDeleted))) throw Errors.subjectNotFound(subject);
      throw Errors.versionNotFound(v);
    }
    return entity(row);
  }

  /** GET /subjects/{s}/versions/{v}/referencedby: ids of live schemas that reference this version. */
  async referencedBy(subject: string, versionText: string): Promise<number[]> {
    const v = await this.getVersion(subject, versionText, true);
    const r = await this.pool.query<{ id: number }>(
      `SELECT DISTINCT s.id FROM ${this.s}.subject_versions sv JOIN ${this.s}.schemas s ON s.id = sv.schema_id
        WHERE NOT sv.deleted AND s.refs @> $1::jsonb ORDER BY s.id`,
      [JSON.stringify([{ subject, version: v.version }])],
    );
    return r.rows.map((x) => x.id);
  }

  // ---- deletes ----------------------------------------------------------------------------------

  private async assertNotReferenced(c: pg.PoolClient, subject: string, versions: number[]): Promise<void> {
    for (const version of versions) {
      const r = await c.query<{ id: number }>(
        `SELECT s.id FROM ${this.s}.subject_versions sv JOIN ${this.s}.schemas s ON s.id = sv.schema_id
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

  private async assertWritable(c: pg.PoolClient, subject: string): Promise<void> {
    const mode = await this.getMode(subject, c);
    if (mode === 'READONLY' || mode === 'READONLY_OVERRIDE') {
      throw Errors.notPermitted(`Subject ${subject} is in read-only mode`);
    }
  }

  async deleteSubject(subject: string, permanent: boolean): Promise<number[]> {
    return this.tx(async (c) => {
      await this.lockSubject(c, subject);
      await this.assertWritable(c, subject);
      const r = await c.query<{ version: number; deleted: boolean }>(
        `SELECT version, deleted FROM ${this.s}.subject_versions WHERE subject = $1 ORDER BY version`,
        [subject],
      );
      if (r.rows.length === 0) throw Errors.subjectNotFound(subject);
      const live = r.rows.filter((x) => !x.deleted).map((x) => x.version);
      if (permanent) {
        if (live.length > 0) throw Errors.subjectNotSoftDeleted(subject);
        const all = r.rows.map((x) => x.version);
        await this.assertNotReferenced(c, subject, all);
        await c.query(`DELETE FROM ${this.s}.subject_versions WHERE subject = $1`, [subject]);
        await c.query(`DELETE FROM ${this.s}.config WHERE subject = $1`, [subject]);
        return all;
      }
      if (live.length === 0) throw Errors.subjectSoftDeleted(subject);
      await this.assertNotReferenced(c, subject, live);
      await c.query(`UPDATE ${this.s}.subject_versions SET deleted = true WHERE subject = $1 AND NOT deleted`, [
        subject,
      ]);
      return live;
    });
  }

  async deleteVersion(subject: string, versionText: string, permanent: boolean): Promise<number> {
    const v = parseVersion(versionText);
    return this.tx(async (c) => {
      await this.lockSubject(c, subject);
      await this.assertWritable(c, subject);
      const r = await c.query<{ version: number; deleted: boolean }>(
        `SELECT version, deleted FROM ${this.s}.subject_versions WHERE subject = $1 ORDER BY version`,
        [subject],
      );
      if (r.rows.length === 0) throw Errors.subjectNotFound(subject);
      const row =
        v === LATEST
          ? (r.rows.filter((x) => permanent || !x.deleted).at(-1) ?? undefined)
          : r.rows.find((x) => x.version === v);
      if (!row) {
        if (v === LATEST) throw Errors.subjectNotFound(subject);
        throw Errors.versionNotFound(v);
      }
      if (permanent && !row.deleted) throw Errors.versionNotSoftDeleted(subject, row.version);
      if (!permanent && row.deleted) throw Errors.versionSoftDeleted(subject, row.version);
      await this.assertNotReferenced(c, subject, [row.version]);
      if (permanent) {
        await c.query(`DELETE FROM ${this.s}.subject_versions WHERE subject = $1 AND version = $2`, [
          subject,
          row.version,
        ]);
      } else {
        await c.query(`UPDATE ${this.s}.subject_versions SET deleted = true WHERE subject = $1 AND version = $2`, [
          subject,
          row.version,
        ]);
      }
      return row.version;
    });
  }

  // ---- compatibility ----------------------------------------------------------------------------

  async testCompatibility(
    subject: string,
    versionText: string | undefined,
    body: SchemaRequest,
  ): Promise<{ is_compatible: boolean; messages: string[] }> {
    const v = versionText === undefined ? undefined : parseVersion(versionText);
    const req = await this.parseRequest(body);
    const level = (await this.getSubjectCompatibility(subject)) ?? (await this.getGlobalCompatibility());
    let targets: Row[];
    if (v === undefined || v === LATEST) {
      // against the live history: the newest for plain levels, every version for transitive ones;
      // no versions → compatible
      targets = await this.rows(this.pool, 'sv.subject = $1 AND NOT sv.deleted', [subject]);
    } else {
      const rows = await this.rows(this.pool, 'sv.subject = $1 AND sv.version = $2 AND NOT sv.deleted', [subject, v]);
      if (rows.length === 0) {
        if (!(await this.hasSubject(subject, false))) throw Errors.subjectNotFound(subject);
        throw Errors.versionNotFound(v);
      }
      targets = rows;
    }
    const prev = await Promise.all(
      targets.map(async (r) => ({
        type: (await this.parsedRow(r, this.pool)).type,
        version: r.version,
        schema: r.schema,
      })),
    );
    const result = checkCompatibility(level, req.parsed.type, prev);
    return { is_compatible: result.compatible, messages: result.messages };
  }
}
