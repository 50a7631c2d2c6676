import type { AvroJson } from './files.ts';

export interface FieldChange {
  /** Dotted path of the field, from the top-level record: RawHeadline.headline.summary. */
  path: string;
  kind: 'added' | 'removed' | 'type-changed';
  /** For added: the new field has a default. For removed: the old one had. */
  hasDefault?: boolean;
  from?: string;
  to?: string;
}

type Obj = { [key: string]: AvroJson };
const isObj = (v: AvroJson | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Field-level differences between two versions of a record schema (names resolved within each). */
export function diffSchemas(oldSchema: AvroJson, newSchema: AvroJson): FieldChange[] {
  const oldNamed = collectNamed(oldSchema);
  const newNamed = collectNamed(newSchema);
  const out: FieldChange[] = [];
  const seen = new Set<string>();
  const resolve = (t: AvroJson | undefined, named: Map<string, Obj>): AvroJson | undefined =>
    typeof t === 'string' && named.has(short(t)) ? named.get(short(t)) : t;

  function walk(o: AvroJson | undefined, n: AvroJson | undefined, path: string): void {
    const ot = resolve(o, oldNamed);
    const nt = resolve(n, newNamed);
    if (isObj(ot) && isObj(nt) && ot.type === 'record' && nt.type === 'record') {
      const key = `${path}|${String(ot.name)}`;
      if (seen.has(key)) return; // recursive types
      seen.add(key);
      const oldFields = (ot.fields as Obj[]) ?? [];
      const newFields = (nt.fields as Obj[]) ?? [];
      const matched = new Set<Obj>();
      for (const nf of newFields) {
        const names = [nf.name, ...(Array.isArray(nf.aliases) ? nf.aliases : [])];
        const of = oldFields.find((f) => names.includes(f.name));
        const p = `${path}.${String(nf.name)}`;
        if (!of) {
          out.push({ path: p, kind: 'added', hasDefault: 'default' in nf });
          continue;
        }
        matched.add(of);
        walk(of.type, nf.type, p);
      }
      for (const of of oldFields) {
        if (!matched.has(of))
          out.push({ path: `${path}.${String(of.name)}`, kind: 'removed', hasDefault: 'default' in of });
      }
      return;
    }
    if (Array.isArray(ot) && Array.isArray(nt)) {
      // Unions: walk records present on both sides by name; otherwise compare the branch lists.
      const recName = (t: AvroJson, named: Map<string, Obj>) => {
        const r = resolve(t, named);
        return isObj(r) && r.type === 'record' ? short(String(r.name)) : undefined;
      };
      for (const b of nt) {
        const name = recName(b, newNamed);
        const match = name && ot.find((x) => recName(x, oldNamed) === name);
        if (match) walk(match, b, path);
      }
      const shapeOf = (arr: AvroJson[], named: Map<string, Obj>) => arr.map((b) => recName(b, named) ?? shape(b));
      const os = shapeOf(ot, oldNamed).join(' | ');
      const ns = shapeOf(nt, newNamed).join(' | ');
      if (os !== ns) out.push({ path, kind: 'type-changed', from: os, to: ns });
      return;
    }
    if (isObj(ot) && isObj(nt) && ot.type === nt.type && (ot.type === 'array' || ot.type === 'map')) {
      walk(ot.type === 'array' ? ot.items : ot.values, nt.type === 'array' ? nt.items : nt.values, `${path}[]`);
      return;
    }
    const os = shape(ot);
    const ns = shape(nt);
    if (os !== ns) out.push({ path, kind: 'type-changed', from: os, to: ns });
  }

  const top = isObj(newSchema) ? String(newSchema.name) : 'record';
  walk(oldSchema, newSchema, short(top));
  return out;
}

function short(n: string): string {
  return n.slice(n.lastIndexOf('.') + 1);
}

function collectNamed(t: AvroJson, out = new Map<string, Obj>()): Map<string, Obj> {
  if (Array.isArray(t)) for (const b of t) collectNamed(b, out);
  else if (isObj(t)) {
    if ((t.type === 'record' || t.type === 'enum' || t.type === 'fixed') && typeof t.name === 'string') {
      out.set(short(t.name), t);
    }
    if (Array.isArray(t.fields)) for (const f of t.fields) if (isObj(f)) collectNamed(f.type as AvroJson, out);
    if (t.items !== undefined) collectNamed(t.items, out);
    if (t.values !== undefined) collectNamed(t.values, out);
  }
  return out;
}

/** A type's shape without docs, as a short string. */
function shape(t: AvroJson | undefined): string {
  if (t === undefined) return '(none)';
  if (typeof t === 'string') return short(t);
  if (Array.isArray(t)) return t.map(shape).join(' | ');
  if (!isObj(t)) return JSON.stringify(t);
  if (t.type === 'record' || t.type === 'fixed') return short(String(t.name));
  if (t.type === 'enum') return `enum ${short(String(t.name))}{${(t.symbols as string[]).join(',')}}`;
  if (t.type === 'array') return `array<${shape(t.items)}>`;
  if (t.type === 'map') return `map<${shape(t.values)}>`;
  return typeof t.logicalType === 'string' ? `${shape(t.type)}(${t.logicalType})` : shape(t.type);
}
