import { createHash } from 'node:crypto';
import avro from 'avsc';

/** A schema reference as Confluent's REST API carries it. */
export interface SchemaReference {
  name: string;
  subject: string;
  version: number;
}

export class InvalidSchemaError extends Error {
  override name = 'InvalidSchemaError';
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

export interface ParsedAvro {
  /** avsc type (references resolved), used by the compatibility checker. */
  type: avro.Type;
  /**
   * Confluent's canonical string: the schema re-serialised the way Avro Java's Schema#toString does
   * (compact JSON, fixed attribute order, namespaces written only where they change), with custom
   * attributes sorted. Two schemas get the same id exactly when this string (and the references) match.
   */
  canonical: string;
}

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
// Avro Java's Schema.SCHEMA_RESERVED / FIELD_RESERVED (+ enum "default"): everything else is a custom prop.
const SCHEMA_RESERVED = new Set([
  'doc',
  'fields',
  'items',
  'name',
  'namespace',
  'size',
  'symbols',
  'values',
  'type',
  'aliases',
]);
const ENUM_RESERVED = new Set([...SCHEMA_RESERVED, 'default']);
const FIELD_RESERVED = new Set(['default', 'doc', 'name', 'order', 'type', 'aliases']);

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function splitName(name: string, namespace: Json | undefined, enclosing: string | undefined) {
  const dot = name.lastIndexOf('.');
  if (dot >= 0) return { short: name.slice(dot + 1), space: name.slice(0, dot) || undefined };
  if (typeof namespace === 'string') return { short: name, space: namespace || undefined };
  return { short: name, space: enclosing };
}

function fullName(name: string, space: string | undefined): string {
  if (name.includes('.') || !space) return name;
  return `${space}.${name}`;
}

/** Name.getQualified(space) in Avro Java: the short name when it lives in the current namespace. */
function qualify(full: string, space: string | undefined): string {
  const dot = full.lastIndexOf('.');
  if (dot < 0) return full;
  return full.slice(0, dot) === space ? full.slice(dot + 1) : full;
}

function props(node: JsonObject, reserved: Set<string>, out: JsonObject): void {
  for (const k of Object.keys(node)
    .filter((k) => !reserved.has(k))
    .sort()) {
    const v = node[k];
    if (v !== undefined) out[k] = v;
  }
}

function writeName(node: JsonObject, out: JsonObject, enclosing: string | undefined): string | undefined {
  const { short, space } = splitName(String(node.name), node.namespace, enclosing);
  out.name = short;
  if (space !== enclosing) out.namespace = space ?? '';
  if (node.doc !== undefined && node.doc !== null) out.doc = String(node.doc);
  return space;
}

function aliases(node: JsonObject, space: string | undefined, out: JsonObject): void {
  if (Array.isArray(node.aliases) && node.aliases.length > 0) {
    out.aliases = node.aliases.map((a) => qualify(fullName(String(a), space), space));
  }
}

function canon(node: Json, space: string | undefined): Json {
  if (typeof node === 'string') {
    return PRIMITIVES.has(node) ? node : qualify(fullName(node, space), space);
  }
  if (Array.isArray(node)) return node.map((n) => canon(n, space));
  if (!isObject(node)) return node;
  const t = node.type;
  if (typeof t !== 'string') return canon(t ?? null, space);
  switch (t) {
    case 'record':
    case 'error': {
      const out: JsonObject = { type: t };
      const ns = writeName(node, out, space);
      out.fields = (Array.isArray(node.fields) ? node.fields : []).map((f) => {
        const field = f as JsonObject;
        const fo: JsonObject = { name: field.name ?? null, type: canon(field.type ?? null, ns) };
        if (field.doc !== undefined && field.doc !== null) fo.doc = String(field.doc);
        if (field.default !== undefined) fo.default = field.default;
        if (field.order !== undefined && field.order !== 'ascending') fo.order = field.order;
        if (Array.isArray(field.aliases) && field.aliases.length > 0) fo.aliases = field.aliases;
        props(field, FIELD_RESERVED, fo);
        return fo;
      });
      props(node, SCHEMA_RESERVED, out);
      aliases(node, ns, out);
      return out;
    }
    case 'enum': {
      const out: JsonObject = { type: t };
      const ns = writeName(node, out, space);
      out.symbols = node.symbols ?? [];
      if (node.default !== undefined && node.default !== null) out.default = node.default;
      props(node, ENUM_RESERVED, out);
      aliases(node, ns, out);
      return out;
    }
    case 'fixed': {
      const out: JsonObject = { type: t };
      const ns = writeName(node, out, space);
      out.size = node.size ?? null;
      props(node, SCHEMA_RESERVED, out);
      aliases(node, ns, out);
      return out;
    }
    case 'array': {
      const out: JsonObject = { type: t, items: canon(node.items ?? null, space) };
      props(node, SCHEMA_RESERVED, out);
      return out;
    }
    case 'map': {
      const out: JsonObject = { type: t, values: canon(node.values ?? null, space) };
      props(node, SCHEMA_RESERVED, out);
      return out;
    }
    default: {
      if (!PRIMITIVES.has(t)) return canon(t, space); // {"type": "some.Named"} is a reference
      const out: JsonObject = { type: t };
      props(node, SCHEMA_RESERVED, out);
      return Object.keys(out).length === 1 ? t : out;
    }
  }
}

/** Confluent's canonical string for an (already validated) Avro schema JSON value. */
export function canonicalString(schema: unknown): string {
  return JSON.stringify(canon(schema as Json, undefined));
}

/**
 * Parse and validate an Avro schema string. `referenced` are the schema strings of its references
 * (resolved transitively, dependencies first), defined before the schema itself as Confluent does.
 * Throws InvalidSchemaError with avsc's reason.
 */
export function parseAvroSchema(text: string, referenced: string[] = []): ParsedAvro {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InvalidSchemaError(`Invalid schema: not JSON (${(e as Error).message})`);
  }
  const registry: Record<string, avro.Type> = {};
  try {
    for (const ref of referenced) avro.Type.forSchema(JSON.parse(ref), { registry });
  } catch (e) {
    throw new InvalidSchemaError(`Invalid referenced schema: ${(e as Error).message}`);
  }
  let type: avro.Type;
  try {
    type = avro.Type.forSchema(json as avro.Schema, { registry });
  } catch (e) {
    throw new InvalidSchemaError(`Invalid schema: ${(e as Error).message}`);
  }
  return { type, canonical: canonicalString(json) };
}

/** Identity of a registered schema: type + canonical string + references, hashed. */
export function schemaFingerprint(schemaType: string, canonical: string, references: SchemaReference[]): string {
  const refs = references.map((r) => [r.name, r.subject, r.version]);
  return createHash('sha256')
    .update(JSON.stringify([schemaType, canonical, refs]))
    .digest('hex');
}
