import { checkCompatibility, parseCompatibilityLevel } from './compatibility.ts';
import { Errors } from './errors.ts';
import { type SchemaRequest, validateSubject } from './request.ts';
import { DEFAULT_COMPATIBILITY, type Mode } from './settings.ts';
import type { RegistryStore } from './store.ts';

/**
 * POST /subjects/{s}/versions: the same schema under the same subject gets the same id (a fast
 * path without the lock); otherwise, under the subject lock, mode and compatibility are checked and
 * the schema row and version are written (IMPORT mode may choose both the id and the version).
 */
export async function register(store: RegistryStore, subject: string, body: SchemaRequest): Promise<{ id: number }> {
  validateSubject(subject);
  const req = await store.parseRequest(body);
  const wantedId = body.id === undefined || body.id === null || Number(body.id) < 0 ? undefined : Number(body.id);
  const wantedVersion =
    body.version === undefined || body.version === null || Number(body.version) <= 0 ? undefined : Number(body.version);
  if (wantedId === undefined && wantedVersion === undefined) {
    // Fast path, one round trip and no lock: already live under this subject → same id.
    const fast = await store.pool.query<{ mode: Mode | null; id: number | null }>(
      `SELECT COALESCE((SELECT mode FROM ${store.s}.mode WHERE subject = $1),
                       (SELECT mode FROM ${store.s}.mode WHERE subject = '')) AS mode,
              (SELECT sv.schema_id FROM ${store.s}.subject_versions sv JOIN ${store.s}.schemas s ON s.id = sv.schema_id
                WHERE sv.subject = $1 AND s.fingerprint = $2 AND NOT sv.deleted LIMIT 1) AS id`,
      [subject, req.fingerprint],
    );
    const row = fast.rows[0];
    if (row?.id != null && row.mode !== 'READONLY' && row.mode !== 'READONLY_OVERRIDE') return { id: row.id };
  }
  return store.tx(async (c) => {
    await store.lockSubject(c, subject);
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
        `SELECT COALESCE((SELECT mode FROM ${store.s}.mode WHERE subject = $1),
                       (SELECT mode FROM ${store.s}.mode WHERE subject = '')) AS mode,
                s.id,
                EXISTS (SELECT 1 FROM ${store.s}.subject_versions sv
                         WHERE sv.subject = $1 AND sv.schema_id = s.id AND NOT sv.deleted) AS live,
                (SELECT compatibility FROM ${store.s}.config WHERE subject = $1) AS subject_level,
                (SELECT compatibility FROM ${store.s}.config WHERE subject = '') AS global_level,
                (SELECT COALESCE(MAX(version), 0) FROM ${store.s}.subject_versions WHERE subject = $1) AS max_version
           FROM (SELECT 1) one LEFT JOIN ${store.s}.schemas s ON s.fingerprint = $2`,
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
        const previous = await store.rows(c, 'sv.subject = $1 AND NOT sv.deleted', [subject]);
        const prev = await Promise.all(
          previous.map(async (r) => ({
            type: (await store.parsedRow(r, c)).type,
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
        const taken = await c.query(`SELECT 1 FROM ${store.s}.schemas WHERE id = $1`, [wantedId]);
        if (taken.rowCount) throw Errors.notPermitted(`Overwrite new schema with id ${wantedId} is not permitted.`);
        await c.query(
          `INSERT INTO ${store.s}.schemas (id, fingerprint, schema_type, schema, refs) VALUES ($1, $2, $3, $4, $5)`,
          [wantedId, req.fingerprint, req.schemaType, req.parsed.canonical, JSON.stringify(req.refs)],
        );
        // keep the sequence ahead of imported ids so they are never handed out again
        await c.query(
          `SELECT setval('${store.s}.schema_id_seq', GREATEST($1::integer, (SELECT last_value FROM ${store.s}.schema_id_seq)))`,
          [wantedId],
        );
        id = wantedId;
      } else {
        const ins = await c.query<{ id: number }>(
          `INSERT INTO ${store.s}.schemas (fingerprint, schema_type, schema, refs) VALUES ($1, $2, $3, $4)
           ON CONFLICT (fingerprint) DO NOTHING RETURNING id`,
          [req.fingerprint, req.schemaType, req.parsed.canonical, JSON.stringify(req.refs)],
        );
        id =
          ins.rows[0]?.id ??
          (await c.query<{ id: number }>(`SELECT id FROM ${store.s}.schemas WHERE fingerprint = $1`, [req.fingerprint]))
            .rows[0]?.id;
        if (id === undefined) throw Errors.store('schema row vanished during registration');
      }
      store.parsedById.set(id, req.parsed);
    }
    let version = wantedVersion;
    if (version === undefined) {
      version = (st?.max_version ?? 0) + 1;
    } else {
      const taken = await c.query(`SELECT 1 FROM ${store.s}.subject_versions WHERE subject = $1 AND version = $2`, [
        subject,
        version,
      ]);
      if (taken.rowCount) throw Errors.notPermitted(`Version ${version} of subject ${subject} already exists`);
    }
    await c.query(`INSERT INTO ${store.s}.subject_versions (subject, version, schema_id) VALUES ($1, $2, $3)`, [
      subject,
      version,
      id,
    ]);
    return { id };
  });
}
