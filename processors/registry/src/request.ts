import { jsonDepth } from '@feedlog/common/json-depth';
import type { SchemaReference } from './avro.ts';
import { Errors } from './errors.ts';

// What a request may carry, checked before any SQL: the registry answers its own 42xxx codes
// (never a store error) for a bad subject, version, reference or an oversized schema.

/** Body of POST /subjects/{s}/versions, POST /subjects/{s} and POST /compatibility/… */
export interface SchemaRequest {
  schema?: unknown;
  schemaType?: unknown;
  references?: unknown;
  id?: unknown;
  version?: unknown;
}

export interface SchemaLimits {
  /** UTF-8 bytes of a schema string (SCHEMA_REGISTRY_MAX_SCHEMA_BYTES) */
  maxSchemaBytes: number;
  /** JSON nesting of a schema string: the Avro parser and the canonical form recurse per level */
  maxSchemaDepth: number;
}
export const DEFAULT_SCHEMA_LIMITS: SchemaLimits = { maxSchemaBytes: 1024 * 1024, maxSchemaDepth: 128 };

/** Size and nesting bounds, checked on the text before any parser or recursive walk sees it. */
export function checkSchemaBounds(schema: string, limits: SchemaLimits): void {
  const bytes = Buffer.byteLength(schema, 'utf8');
  if (bytes > limits.maxSchemaBytes)
    throw Errors.invalidSchema(`: ${bytes} bytes; schemas are limited to ${limits.maxSchemaBytes} bytes`);
  if (jsonDepth(schema, limits.maxSchemaDepth) < 0)
    throw Errors.invalidSchema(`: nested deeper than ${limits.maxSchemaDepth} levels`);
}

export const MAX_VERSION = 2 ** 31 - 1;
export const LATEST = -1;

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

export function validateSubject(subject: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (!subject || subject.trim() === '' || /[\u0000-\u001f\u007f]/.test(subject)) throw Errors.invalidSubject(subject);
}

export function parseReferences(raw: unknown): SchemaReference[] {
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
