/**
 * Avro schema compatibility, pure (no I/O).
 *
 * The reader/writer rules are those of the Avro 1.11 specification, section "Schema Resolution"
 * (https://avro.apache.org/docs/1.11.1/specification/#schema-resolution):
 *  - same primitive type, or a promotion: int → long/float/double, long → float/double,
 *    float → double, string ↔ bytes;
 *  - records/enums/fixed match when their unqualified names match (or a reader alias names the writer);
 *    fixed sizes must be equal;
 *  - record fields are matched by name (or by a reader field alias); a reader field missing in the
 *    writer needs a default; writer fields missing in the reader are ignored;
 *  - a writer enum symbol the reader lacks is an error unless the reader enum has a default;
 *  - arrays/maps resolve their items/values;
 *  - writer union: every branch must resolve against the reader; reader union: some branch must
 *    resolve against the (non-union) writer.
 * The walk, the incompatibility kinds and their locations (JSON-pointer-like paths such as
 * `/fields/1/type`) follow Avro Java's SchemaCompatibility, which Confluent Schema Registry uses; the
 * messages follow Confluent's io.confluent.kafka.schemaregistry.avro.Difference, with the offending
 * field named by its dotted path (`fieldPath`).
 */
import type avro from 'avsc';

export const COMPATIBILITY_LEVELS = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const;
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

export function parseCompatibilityLevel(v: unknown): CompatibilityLevel | undefined {
  if (typeof v !== 'string') return undefined;
  const up = v.trim().toUpperCase();
  return (COMPATIBILITY_LEVELS as readonly string[]).includes(up) ? (up as CompatibilityLevel) : undefined;
}

export type IncompatibilityType =
  | 'NAME_MISMATCH'
  | 'FIXED_SIZE_MISMATCH'
  | 'MISSING_ENUM_SYMBOLS'
  | 'READER_FIELD_MISSING_DEFAULT_VALUE'
  | 'TYPE_MISMATCH'
  | 'MISSING_UNION_BRANCH';

export interface Incompatibility {
  type: IncompatibilityType;
  /** Avro Java's location: `/fields/1/type`, `/symbols`, `/items`… */
  location: string;
  /** Avro Java's message: the field name, `[A, B]`, `reader type: INT not compatible with writer type: STRING`… */
  message: string;
  /** Dotted field-name path in the reader schema (`address.zip`, `tags[]`, `attrs{}`); '' for the root. */
  fieldPath: string;
}

// avsc types seen structurally (its .d.ts does not expose everything we read).
interface AnyType {
  typeName: string;
  name?: string;
  aliases?: string[];
  fields?: { name: string; type: AnyType; aliases: string[]; defaultValue(): unknown }[];
  symbols?: string[];
  default?: string;
  size?: number;
  itemsType?: AnyType;
  valuesType?: AnyType;
  types?: AnyType[];
  underlyingType?: AnyType;
}

function kind(t: AnyType): string {
  if (t.underlyingType) return kind(t.underlyingType); // logical types resolve as their underlying type
  if (t.typeName.startsWith('union')) return 'union';
  if (t.typeName === 'error') return 'record';
  return t.typeName;
}

function base(t: AnyType): AnyType {
  return t.underlyingType ? base(t.underlyingType) : t;
}

const unqualify = (n: string) => n.slice(n.lastIndexOf('.') + 1);

function namesMatch(reader: AnyType, writer: AnyType): boolean {
  const r = reader.name ?? '';
  const w = writer.name ?? '';
  if (unqualify(r) === unqualify(w)) return true;
  return (reader.aliases ?? []).some((a) => a === w || unqualify(a) === unqualify(w));
}

const PROMOTIONS: Record<string, string[]> = {
  long: ['int'],
  float: ['int', 'long'],
  double: ['int', 'long', 'float'],
  bytes: ['string'],
  string: ['bytes'],
};

class Checker {
  /** Pairs being compared further up the stack (recursive types). */
  private active = new Map<AnyType, Set<AnyType>>();

  check(reader: AnyType, writer: AnyType, loc: string[], path: string): Incompatibility[] {
    reader = base(reader);
    writer = base(writer);
    let inner = this.active.get(reader);
    if (!inner) {
      inner = new Set();
      this.active.set(reader, inner);
    }
    // A recursive type compared with itself further down: assume compatible (as Avro Java does).
    if (inner.has(writer)) return [];
    inner.add(writer);
    try {
      return this.calculate(reader, writer, loc, path);
    } finally {
      inner.delete(writer);
    }
  }

  private at(loc: string[], ...more: string[]): string {
    return `/${[...loc, ...more].join('/')}`;
  }

  private calculate(reader: AnyType, writer: AnyType, loc: string[], path: string): Incompatibility[] {
    const rk = kind(reader);
    const wk = kind(writer);
    const out: Incompatibility[] = [];
    const mismatch = (): Incompatibility => ({
      type: 'TYPE_MISMATCH',
      location: this.at(loc),
      message: `reader type: ${rk.toUpperCase()} not compatible with writer type: ${wk.toUpperCase()}`,
      fieldPath: path,
    });
    if (rk === wk) {
      switch (rk) {
        case 'array':
          return this.check(reader.itemsType as AnyType, writer.itemsType as AnyType, [...loc, 'items'], `${path}[]`);
        case 'map':
          return this.check(
            reader.valuesType as AnyType,
            writer.valuesType as AnyType,
            [...loc, 'values'],
            `${path}{}`,
          );
        case 'fixed':
          if (!namesMatch(reader, writer)) out.push(this.nameMismatch(writer, loc, path));
          if (reader.size !== writer.size) {
            out.push({
              type: 'FIXED_SIZE_MISMATCH',
              location: this.at(loc, 'size'),
              message: `expected: ${writer.size}, found: ${reader.size}`,
              fieldPath: path,
            });
          }
          return out;
        case 'enum': {
          if (!namesMatch(reader, writer)) out.push(this.nameMismatch(writer, loc, path));
          const readerSymbols = new Set(reader.symbols ?? []);
          const missing = (writer.symbols ?? []).filter((s) => !readerSymbols.has(s)).sort();
          if (missing.length > 0 && reader.default === undefined) {
            out.push({
              type: 'MISSING_ENUM_SYMBOLS',
              location: this.at(loc, 'symbols'),
              message: `[${missing.join(', ')}]`,
              fieldPath: path,
            });
          }
          return out;
        }
        case 'record': {
          if (!namesMatch(reader, writer)) out.push(this.nameMismatch(writer, loc, path));
          const writerFields = new Map((writer.fields ?? []).map((f) => [f.name, f]));
          (reader.fields ?? []).forEach((rf, i) => {
            const fieldPath = path ? `${path}.${rf.name}` : rf.name;
            const wf = writerFields.get(rf.name) ?? rf.aliases.map((a) => writerFields.get(a)).find((f) => f);
            if (!wf) {
              if (rf.defaultValue() === undefined) {
                out.push({
                  type: 'READER_FIELD_MISSING_DEFAULT_VALUE',
                  location: this.at(loc, 'fields', String(i)),
                  message: rf.name,
                  fieldPath,
                });
              }
            } else {
              out.push(...this.check(rf.type, wf.type, [...loc, 'fields', String(i), 'type'], fieldPath));
            }
          });
          return out;
        }
        case 'union':
          (writer.types ?? []).forEach((wb, i) => {
            out.push(...this.check(reader, wb, [...loc, String(i)], path));
          });
          return out;
        default:
          return out; // same primitive
      }
    }
    if (wk === 'union') {
      (writer.types ?? []).forEach((wb, i) => {
        out.push(...this.check(reader, wb, [...loc, String(i)], path));
      });
      return out;
    }
    if (rk === 'union') {
      for (const rb of reader.types ?? []) {
        if (this.check(rb, writer, [...loc], path).length === 0) return out;
      }
      out.push({
        type: 'MISSING_UNION_BRANCH',
        location: this.at(loc),
        message: `reader union lacking writer type: ${wk.toUpperCase()}`,
        fieldPath: path,
      });
      return out;
    }
    if (PROMOTIONS[rk]?.includes(wk)) return out;
    out.push(mismatch());
    return out;
  }

  private nameMismatch(writer: AnyType, loc: string[], path: string): Incompatibility {
    return {
      type: 'NAME_MISMATCH',
      location: this.at(loc, 'name'),
      message: `expected: ${writer.name}`,
      fieldPath: path,
    };
  }
}

/** Can data written with `writer` be read with `reader`? Returns every incompatibility found (empty = yes). */
export function readerWriterIncompatibilities(reader: avro.Type, writer: avro.Type): Incompatibility[] {
  return new Checker().check(reader as unknown as AnyType, writer as unknown as AnyType, [], '');
}

/** Confluent's Difference#toString, with `%s` already replaced by reader/writer ('new'/'old'). */
export function describe(inc: Incompatibility, reader: string, writer: string): string {
  const p = inc.location;
  let d: string;
  switch (inc.type) {
    case 'FIXED_SIZE_MISMATCH':
      d = `The size of FIXED type field at path '${p}' in the ${reader} schema does not match with the ${writer} schema`;
      break;
    case 'TYPE_MISMATCH':
      d = `The type (path '${p}') of a field in the ${reader} schema does not match with the ${writer} schema`;
      break;
    case 'NAME_MISMATCH':
      d = `The name of the schema has changed (path '${p}')`;
      break;
    case 'MISSING_ENUM_SYMBOLS':
      d = `The ${reader} schema is missing enum symbols '${inc.message}' at path '${p}' in the ${writer} schema`;
      break;
    case 'MISSING_UNION_BRANCH':
      d = `The ${reader} schema is missing a type inside a union field at path '${p}' in the ${writer} schema`;
      break;
    case 'READER_FIELD_MISSING_DEFAULT_VALUE':
      d = `The field '${inc.message}' at path '${p}' in the ${reader} schema has no default value and is missing in the ${writer} schema`;
      break;
  }
  return `{errorType:'${inc.type}', description:'${d}', additionalInfo:'${inc.message}', fieldPath:'${inc.fieldPath || '<root>'}'}`;
}

export interface PreviousSchema {
  type: avro.Type;
  version?: number;
  /** The stored (canonical) schema string, quoted in messages as Confluent does. */
  schema: string;
}

export interface CompatibilityResult {
  compatible: boolean;
  /** Confluent-style messages (`?verbose=true`, and the 409 body). */
  messages: string[];
  incompatibilities: Incompatibility[];
}

/**
 * Check `candidate` against the subject's previous schemas (oldest first) under `level`, as
 * Confluent's CompatibilityChecker does: non-transitive levels look at the newest only; transitive
 * levels check newest → oldest and stop at the first failure.
 */
export function checkCompatibility(
  level: CompatibilityLevel,
  candidate: avro.Type,
  previous: PreviousSchema[],
): CompatibilityResult {
  if (level === 'NONE' || previous.length === 0) return { compatible: true, messages: [], incompatibilities: [] };
  const newestFirst = [...previous].reverse();
  const targets = level.endsWith('_TRANSITIVE') ? newestFirst : newestFirst.slice(0, 1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  for (const old of targets) {
    const messages: string[] = [];
    const incompatibilities: Incompatibility[] = [];
    const trailer = () => {
      if (old.version !== undefined) messages.push(`{oldSchemaVersion: ${old.version}}`);
      messages.push(`{oldSchema: '${old.schema}'}`);
    };
    if (forward) {
      // the old schema must read data written with the new one
      const found = readerWriterIncompatibilities(old.type, candidate);
      incompatibilities.push(...found);
      messages.push(...found.map((i) => describe(i, 'old', 'new')));
      if (found.length > 0 && !backward) trailer();
    }
    if (backward) {
      // the new schema must read data written with the old one
      const found = readerWriterIncompatibilities(candidate, old.type);
      incompatibilities.push(...found);
      messages.push(...found.map((i) => describe(i, 'new', 'old')));
      if (found.length > 0 || (forward && incompatibilities.length > 0)) trailer();
    }
    if (incompatibilities.length > 0) {
      messages.push(`{compatibility: '${level}'}`);
      return { compatible: false, messages, incompatibilities };
    }
  }
  return { compatible: true, messages: [], incompatibilities: [] };
}
