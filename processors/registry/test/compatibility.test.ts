/**
 * Evolution cases and the verdict Avro's rules give, per the Avro 1.11 specification, section
 * "Schema Resolution" (https://avro.apache.org/docs/1.11.1/specification/#schema-resolution).
 * `backward`: can the NEW schema read data written with the OLD one (reader = new, writer = old)?
 * `forward`:  can the OLD schema read data written with the NEW one (reader = old, writer = new)?
 * Every verdict is also cross-checked against avsc's createResolver (it throws when resolution is
 * impossible) with ignoreNamespaces, since the spec matches named types by unqualified name.
 */
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { type CompatibilityLevel, checkCompatibility, readerWriterIncompatibilities } from '../src/compatibility.ts';

type S = unknown;
const rec = (fields: S[], name = 'Headline', extra: Record<string, unknown> = {}) => ({
  type: 'record',
  name,
  namespace: 'feedlog',
  fields,
  ...extra,
});
const f = (name: string, type: S, extra: Record<string, unknown> = {}) => ({ name, type, ...extra });
const one = (type: S, extra: Record<string, unknown> = {}) => rec([f('v', type, extra)]);
const enumT = (symbols: string[], extra: Record<string, unknown> = {}) => ({
  type: 'enum',
  name: 'Category',
  symbols,
  ...extra,
});
const fixedT = (size: number, name = 'Hash') => ({ type: 'fixed', name, size });
const meta = (fields: S[]) => ({ type: 'record', name: 'Meta', fields });
const list = (extraField?: S) => ({
  type: 'record',
  name: 'Node',
  fields: [f('value', 'int'), f('next', ['null', 'Node'], { default: null }), ...(extraField ? [extraField] : [])],
});

interface Case {
  name: string;
  old: S;
  new: S;
  backward: boolean;
  forward: boolean;
  /** expected first incompatibility (type, fieldPath) for the failing direction(s) */
  why?: { type: string; fieldPath: string };
}

const cases: Case[] = [
  { name: 'identical record', old: rec([f('a', 'int')]), new: rec([f('a', 'int')]), backward: true, forward: true },
  {
    name: 'field added with default',
    old: rec([f('a', 'int')]),
    new: rec([f('a', 'int'), f('b', 'string', { default: '' })]),
    backward: true,
    forward: true,
  },
  {
    name: 'field added without default',
    old: rec([f('a', 'int')]),
    new: rec([f('a', 'int'), f('b', 'string')]),
    backward: false,
    forward: true,
    why: { type: 'READER_FIELD_MISSING_DEFAULT_VALUE', fieldPath: 'b' },
  },
  {
    name: 'field with default removed',
    old: rec([f('a', 'int'), f('b', 'string', { default: 'x' })]),
    new: rec([f('a', 'int')]),
    backward: true,
    forward: true,
  },
  {
    name: 'field without default removed',
    old: rec([f('a', 'int'), f('b', 'string')]),
    new: rec([f('a', 'int')]),
    backward: true,
    forward: false,
    why: { type: 'READER_FIELD_MISSING_DEFAULT_VALUE', fieldPath: 'b' },
  },
  {
    name: 'field renamed without alias',
    old: rec([f('headline', 'string')]),
    new: rec([f('title', 'string')]),
    backward: false,
    forward: false,
    why: { type: 'READER_FIELD_MISSING_DEFAULT_VALUE', fieldPath: 'title' },
  },
  {
    name: 'field renamed with alias in the new reader',
    old: rec([f('headline', 'string')]),
    new: rec([f('title', 'string', { aliases: ['headline'] })]),
    backward: true,
    forward: false,
  },
  {
    name: 'field renamed with alias and default',
    old: rec([f('headline', 'string', { default: '' })]),
    new: rec([f('title', 'string', { aliases: ['headline'], default: '' })]),
    backward: true,
    forward: true,
  },
  { name: 'promotion int → long', old: one('int'), new: one('long'), backward: true, forward: false },
  { name: 'promotion int → float', old: one('int'), new: one('float'), backward: true, forward: false },
  { name: 'promotion int → double', old: one('int'), new: one('double'), backward: true, forward: false },
  { name: 'promotion long → float', old: one('long'), new: one('float'), backward: true, forward: false },
  { name: 'promotion long → double', old: one('long'), new: one('double'), backward: true, forward: false },
  { name: 'promotion float → double', old: one('float'), new: one('double'), backward: true, forward: false },
  {
    name: 'narrowing long → int',
    old: one('long'),
    new: one('int'),
    backward: false,
    forward: true,
    why: { type: 'TYPE_MISMATCH', fieldPath: 'v' },
  },
  { name: 'narrowing double → float', old: one('double'), new: one('float'), backward: false, forward: true },
  { name: 'string → bytes', old: one('string'), new: one('bytes'), backward: true, forward: true },
  { name: 'bytes → string', old: one('bytes'), new: one('string'), backward: true, forward: true },
  {
    name: 'string → int',
    old: one('string'),
    new: one('int'),
    backward: false,
    forward: false,
    why: { type: 'TYPE_MISMATCH', fieldPath: 'v' },
  },
  { name: 'int → string', old: one('int'), new: one('string'), backward: false, forward: false },
  { name: 'boolean → int', old: one('boolean'), new: one('int'), backward: false, forward: false },
  {
    name: 'enum symbol added (no default)',
    old: one(enumT(['A', 'B'])),
    new: one(enumT(['A', 'B', 'C'])),
    backward: true,
    forward: false,
    why: { type: 'MISSING_ENUM_SYMBOLS', fieldPath: 'v' },
  },
  {
    name: 'enum symbol removed (no default)',
    old: one(enumT(['A', 'B', 'C'])),
    new: one(enumT(['A', 'B'])),
    backward: false,
    forward: true,
    why: { type: 'MISSING_ENUM_SYMBOLS', fieldPath: 'v' },
  },
  {
    name: 'enum symbol removed, new enum has a default',
    old: one(enumT(['A', 'B', 'C'], { default: 'A' })),
    new: one(enumT(['A', 'B'], { default: 'A' })),
    backward: true,
    forward: true,
  },
  {
    name: 'enum symbol added, old enum has a default',
    old: one(enumT(['A', 'B'], { default: 'A' })),
    new: one(enumT(['A', 'B', 'C'], { default: 'A' })),
    backward: true,
    forward: true,
  },
  {
    name: 'enum renamed',
    old: one(enumT(['A'])),
    new: one({ ...enumT(['A']), name: 'Topic' }),
    backward: false,
    forward: false,
    why: { type: 'NAME_MISMATCH', fieldPath: 'v' },
  },
  {
    name: 'enum renamed with alias in the new reader',
    old: one(enumT(['A'])),
    new: one({ ...enumT(['A']), name: 'Topic', aliases: ['feedlog.Category'] }),
    backward: true,
    forward: false,
  },
  {
    name: 'union widening: string → [null, string]',
    old: one('string'),
    new: one(['null', 'string']),
    backward: true,
    forward: false,
    why: { type: 'TYPE_MISMATCH', fieldPath: 'v' },
  },
  {
    name: 'union narrowing: [null, string] → string',
    old: one(['null', 'string']),
    new: one('string'),
    backward: false,
    forward: true,
    why: { type: 'TYPE_MISMATCH', fieldPath: 'v' },
  },
  {
    name: 'union branch added',
    old: one(['null', 'string']),
    new: one(['null', 'string', 'int']),
    backward: true,
    forward: false,
    why: { type: 'MISSING_UNION_BRANCH', fieldPath: 'v' },
  },
  {
    name: 'union branch removed',
    old: one(['null', 'string', 'int']),
    new: one(['null', 'string']),
    backward: false,
    forward: true,
    why: { type: 'MISSING_UNION_BRANCH', fieldPath: 'v' },
  },
  {
    name: 'union branches reordered',
    old: one(['null', 'string']),
    new: one(['string', 'null']),
    backward: true,
    forward: true,
  },
  {
    name: 'int promoted into a union with long',
    old: one('int'),
    new: one(['null', 'long']),
    backward: true,
    forward: false,
  },
  {
    name: 'nested record: field added without default',
    old: rec([f('meta', meta([f('lang', 'string')]))]),
    new: rec([f('meta', meta([f('lang', 'string'), f('source', 'string')]))]),
    backward: false,
    forward: true,
    why: { type: 'READER_FIELD_MISSING_DEFAULT_VALUE', fieldPath: 'meta.source' },
  },
  {
    name: 'nested record: field added with default',
    old: rec([f('meta', meta([f('lang', 'string')]))]),
    new: rec([f('meta', meta([f('lang', 'string'), f('source', 'string', { default: 'rss' })]))]),
    backward: true,
    forward: true,
  },
  {
    name: 'nested record: type changed',
    old: rec([f('meta', meta([f('score', 'string')]))]),
    new: rec([f('meta', meta([f('score', 'int')]))]),
    backward: false,
    forward: false,
    why: { type: 'TYPE_MISMATCH', fieldPath: 'meta.score' },
  },
  {
    name: 'nested record renamed',
    old: rec([f('meta', meta([f('lang', 'string')]))]),
    new: rec([f('meta', { ...meta([f('lang', 'string')]), name: 'Info' })]),
    backward: false,
    forward: false,
    why: { type: 'NAME_MISMATCH', fieldPath: 'meta' },
  },
  {
    name: 'array items int → long',
    old: one({ type: 'array', items: 'int' }),
    new: one({ type: 'array', items: 'long' }),
    backward: true,
    forward: false,
    why: { type: 'TYPE_MISMATCH', fieldPath: 'v[]' },
  },
  {
    name: 'array items string → int',
    old: one({ type: 'array', items: 'string' }),
    new: one({ type: 'array', items: 'int' }),
    backward: false,
    forward: false,
  },
  {
    name: 'array of records: item field added without default',
    old: one({ type: 'array', items: meta([f('lang', 'string')]) }),
    new: one({ type: 'array', items: meta([f('lang', 'string'), f('x', 'int')]) }),
    backward: false,
    forward: true,
    why: { type: 'READER_FIELD_MISSING_DEFAULT_VALUE', fieldPath: 'v[].x' },
  },
  {
    name: 'map values int → double',
    old: one({ type: 'map', values: 'int' }),
    new: one({ type: 'map', values: 'double' }),
    backward: true,
    forward: false,
    why: { type: 'TYPE_MISMATCH', fieldPath: 'v{}' },
  },
  {
    name: 'map → array',
    old: one({ type: 'map', values: 'int' }),
    new: one({ type: 'array', items: 'int' }),
    backward: false,
    forward: false,
  },
  {
    name: 'fixed size changed',
    old: one(fixedT(16)),
    new: one(fixedT(32)),
    backward: false,
    forward: false,
    why: { type: 'FIXED_SIZE_MISMATCH', fieldPath: 'v' },
  },
  { name: 'fixed unchanged', old: one(fixedT(16)), new: one(fixedT(16)), backward: true, forward: true },
  {
    name: 'fixed renamed',
    old: one(fixedT(16)),
    new: one(fixedT(16, 'Digest')),
    backward: false,
    forward: false,
    why: { type: 'NAME_MISMATCH', fieldPath: 'v' },
  },
  {
    name: 'top-level record renamed',
    old: rec([f('a', 'int')]),
    new: rec([f('a', 'int')], 'Item'),
    backward: false,
    forward: false,
    why: { type: 'NAME_MISMATCH', fieldPath: '' },
  },
  {
    name: 'top-level record renamed with alias in the new reader',
    old: rec([f('a', 'int')]),
    new: rec([f('a', 'int')], 'Item', { aliases: ['feedlog.Headline'] }),
    backward: true,
    forward: false,
  },
  {
    name: 'namespace changed only (names match unqualified)',
    old: rec([f('a', 'int')]),
    new: { ...rec([f('a', 'int')]), namespace: 'feedlog.v2' },
    backward: true,
    forward: true,
  },
  {
    name: 'optional field added with null default',
    old: rec([f('a', 'int')]),
    new: rec([f('a', 'int'), f('url', ['null', 'string'], { default: null })]),
    backward: true,
    forward: true,
  },
  { name: 'record → primitive', old: rec([f('a', 'int')]), new: 'string', backward: false, forward: false },
  {
    name: 'fields reordered',
    old: rec([f('a', 'int'), f('b', 'string')]),
    new: rec([f('b', 'string'), f('a', 'int')]),
    backward: true,
    forward: true,
  },
  {
    name: 'doc and default changed only',
    old: rec([f('a', 'int', { default: 1, doc: 'one' })]),
    new: rec([f('a', 'int', { default: 2, doc: 'two' })]),
    backward: true,
    forward: true,
  },
  { name: 'recursive record unchanged', old: list(), new: list(), backward: true, forward: true },
  {
    name: 'recursive record: field added with default',
    old: list(),
    new: list(f('label', 'string', { default: '' })),
    backward: true,
    forward: true,
  },
  {
    name: 'recursive record: field added without default',
    old: list(),
    new: list(f('label', 'string')),
    backward: false,
    forward: true,
    why: { type: 'READER_FIELD_MISSING_DEFAULT_VALUE', fieldPath: 'label' },
  },
  {
    name: 'logical type added on long (resolution uses the underlying type)',
    old: one('long'),
    new: one({ type: 'long', logicalType: 'timestamp-millis' }),
    backward: true,
    forward: true,
  },
  {
    name: 'int → union without a numeric branch',
    old: one('int'),
    new: one(['null', 'string']),
    backward: false,
    forward: false,
    why: { type: 'MISSING_UNION_BRANCH', fieldPath: 'v' },
  },
];

const parse = (s: S) => avro.Type.forSchema(s as avro.Schema);

function avscResolves(reader: avro.Type, writer: avro.Type): boolean {
  try {
    reader.createResolver(writer, { ignoreNamespaces: true });
    return true;
  } catch {
    return false;
  }
}

describe('Avro reader/writer compatibility', () => {
  it('has at least 40 evolution cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  for (const c of cases) {
    it(`${c.name}: backward=${c.backward} forward=${c.forward}`, () => {
      const oldT = parse(c.old);
      const newT = parse(c.new);
      const back = readerWriterIncompatibilities(newT, oldT);
      const fwd = readerWriterIncompatibilities(oldT, newT);
      expect(back.length === 0, `backward: ${JSON.stringify(back)}`).toBe(c.backward);
      expect(fwd.length === 0, `forward: ${JSON.stringify(fwd)}`).toBe(c.forward);
      // the oracle agrees
      expect(avscResolves(newT, oldT)).toBe(c.backward);
      expect(avscResolves(oldT, newT)).toBe(c.forward);
      if (c.why) {
        const found = [...back, ...fwd];
        expect(found.map((i) => ({ type: i.type, fieldPath: i.fieldPath }))).toContainEqual(c.why);
      }
      // levels follow from the two directions
      const prev = [{ type: oldT, version: 1, schema: JSON.stringify(c.old) }];
      expect(checkCompatibility('BACKWARD', newT, prev).compatible).toBe(c.backward);
      expect(checkCompatibility('FORWARD', newT, prev).compatible).toBe(c.forward);
      expect(checkCompatibility('FULL', newT, prev).compatible).toBe(c.backward && c.forward);
      expect(checkCompatibility('NONE', newT, prev).compatible).toBe(true);
    });
  }
});

describe('transitive levels and messages', () => {
  const v = (fields: S[]) => ({ type: parse(rec(fields)), schema: JSON.stringify(rec(fields)) });
  const history = (...schemas: ReturnType<typeof v>[]) => schemas.map((s, i) => ({ ...s, version: i + 1 }));

  it('BACKWARD checks the latest only; BACKWARD_TRANSITIVE every version', () => {
    const prev = history(v([f('a', 'int')]), v([f('a', 'int'), f('b', 'string', { default: '' })]));
    const candidate = parse(rec([f('a', 'int'), f('b', 'string')]));
    expect(checkCompatibility('BACKWARD', candidate, prev).compatible).toBe(true);
    const t = checkCompatibility('BACKWARD_TRANSITIVE', candidate, prev);
    expect(t.compatible).toBe(false);
    expect(t.messages).toContain('{oldSchemaVersion: 1}');
  });

  it('FORWARD checks the latest only; FORWARD_TRANSITIVE every version', () => {
    const prev = history(v([f('a', 'int'), f('b', 'string')]), v([f('a', 'int'), f('b', 'string', { default: '' })]));
    const candidate = parse(rec([f('a', 'int')]));
    expect(checkCompatibility('FORWARD', candidate, prev).compatible).toBe(true);
    expect(checkCompatibility('FORWARD_TRANSITIVE', candidate, prev).compatible).toBe(false);
  });

  it('FULL_TRANSITIVE needs both directions against every version', () => {
    const prev = history(v([f('a', 'int')]), v([f('a', 'int'), f('b', 'string', { default: '' })]));
    const ok = parse(rec([f('a', 'int'), f('b', 'string', { default: '' }), f('c', 'int', { default: 0 })]));
    const bad = parse(rec([f('a', 'long')]));
    expect(checkCompatibility('FULL_TRANSITIVE', ok, prev).compatible).toBe(true);
    expect(checkCompatibility('FULL', bad, prev).compatible).toBe(false);
    expect(checkCompatibility('FULL_TRANSITIVE', bad, prev).compatible).toBe(false);
  });

  it('writes Confluent-style messages naming the field', () => {
    const prev = history(v([f('a', 'int')]));
    const r = checkCompatibility('BACKWARD', parse(rec([f('a', 'int'), f('source', 'string')])), prev);
    expect(r.messages[0]).toBe(
      "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'source' at path '/fields/1' in the new schema has no default value and is missing in the old schema', additionalInfo:'source', fieldPath:'source'}",
    );
    expect(r.messages.at(-1)).toBe("{compatibility: 'BACKWARD'}");
    const fwd = checkCompatibility('FORWARD', parse(rec([f('a', 'string')])), prev);
    expect(fwd.messages[0]).toContain(
      "The type (path '/fields/0/type') of a field in the old schema does not match with the new schema",
    );
    expect(fwd.messages[0]).toContain('reader type: INT not compatible with writer type: STRING');
  });

  it('NONE accepts anything and an empty history is always compatible', () => {
    const levels: CompatibilityLevel[] = ['BACKWARD', 'FORWARD', 'FULL', 'FULL_TRANSITIVE'];
    for (const l of levels) expect(checkCompatibility(l, parse('string'), []).compatible).toBe(true);
    expect(checkCompatibility('NONE', parse('string'), history(v([f('a', 'int')]))).compatible).toBe(true);
  });
});
