import type pg from 'pg';
import {
  InvalidSchemaError,
  type ParsedAvro,
  parseAvroSchema,
  type SchemaReference,
  schemaFingerprint,
} from './avro.ts';
import { Errors, RegistryError } from './errors.ts';
import { assertIdentifier } from './migrate.ts';
import { checkSchemaBounds, LATEST, parseReferences, type SchemaLimits, type SchemaRequest } from './request.ts';

/** The Schema entity Confluent returns (schemaType omitted for AVRO, references when present). */
export interface SchemaEntity {
  subject: string;
  version: number;
  id: number;
  schema: string;
  references?: SchemaReference[];
  schemaType?: string;
}

export interface Row {
  subject: string;
  version: number;
  schema_id: number;
  deleted: boolean;
  schema: string;
  schema_type: string;
  refs: SchemaReference[];
}

export function entity(r: Row): SchemaEntity {
  const e: SchemaEntity = { subject: r.subject, version: r.version, id: r.schema_id, schema: r.schema };
  if (r.schema_type !== 'AVRO') e.schemaType = r.schema_type;
  if (r.refs.length > 0) e.references = r.refs;
  return e;
}

/**
 * The registry's PostgreSQL tables under one schema: transactions, the per-subject lock, the joined
 * version rows, and schema parsing (references resolved from the tables, parsed ids cached).
 * Every operation module (settings, register, reads, deletes) works through it.
 */
export class RegistryStore {
  readonly s: string;
  /** Schema ids are immutable: their parsed form is cached forever. */
  readonly parsedById = new Map<number, ParsedAvro>();

  constructor(
    readonly pool: pg.Pool,
    pgSchema: string,
    readonly limits: SchemaLimits,
  ) {
    this.s = assertIdentifier(pgSchema);
  }

  async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
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

  async lockSubject(c: pg.PoolClient, subject: string): Promise<void> {
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`feedlog.registry.${this.s}.${subject}`]);
  }

  async rows(q: pg.Pool | pg.PoolClient, where: string, params: unknown[], order = 'sv.version'): Promise<Row[]> {
    const r = await q.query<Row>(
      `SELECT sv.subject, sv.version, sv.schema_id, sv.deleted, s.schema, s.schema_type, s.refs
         FROM ${this.s}.subject_versions sv JOIN ${this.s}.schemas s ON s.id = sv.schema_id
        WHERE ${where} ORDER BY ${order}`,
      params,
    );
    return r.rows;
  }

  /** Schema strings of the references, transitively, dependencies first. */
  async resolveReferences(
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

  async parseRequest(
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

  async parsedRow(row: Row, q: pg.Pool | pg.PoolClient): Promise<ParsedAvro> {
    let p = this.parsedById.get(row.schema_id);
    if (!p) {
      p = parseAvroSchema(row.schema, await this.resolveReferences(row.refs, q));
      this.parsedById.set(row.schema_id, p);
    }
    return p;
  }

  async hasSubject(subject: string, includeDeleted: boolean): Promise<boolean> {
    const r = await this.pool.query(
      `SELECT 1 FROM ${this.s}.subject_versions WHERE subject = $1 ${includeDeleted ? '' : 'AND NOT deleted'} LIMIT 1`,
      [subject],
    );
    return (r.rowCount ?? 0) > 0;
  }
}
