import { describe, expect, it } from 'vitest';
import { InvalidSchemaError, parseAvroSchema, schemaFingerprint } from '../src/avro.ts';

const canon = (s: unknown) => parseAvroSchema(typeof s === 'string' ? s : JSON.stringify(s)).canonical;

describe('canonical string (what Confluent compares to decide "same schema")', () => {
  const base = {
    type: 'record',
    name: 'Headline',
    namespace: 'feedlog',
    fields: [{ name: 'title', type: 'string', doc: 'the title' }],
  };

  it('ignores whitespace and attribute order', () => {
    const spaced = `{
      "fields": [ { "doc": "the title", "type": "string", "name": "title" } ],
      "namespace": "feedlog",   "name": "Headline", "type": "record" }`;
    expect(canon(spaced)).toBe(canon(base));
    expect(canon(base)).toBe(
      '{"type":"record","name":"Headline","namespace":"feedlog","fields":[{"name":"title","type":"string","doc":"the title"}]}',
    );
  });

  it('treats a full name and name + namespace alike', () => {
    expect(canon({ ...base, name: 'feedlog.Headline', namespace: undefined })).toBe(canon(base));
  });

  it('writes {"type":"int"} as "int" and sorts custom attributes', () => {
    expect(canon({ type: 'int' })).toBe('"int"');
    expect(canon({ type: 'long', logicalType: 'timestamp-millis', 'x-a': 1 })).toBe(
      canon({ 'x-a': 1, logicalType: 'timestamp-millis', type: 'long' }),
    );
  });

  it('keeps doc, default, aliases and order significant, as Confluent (AvroSchema#equals) does', () => {
    const variants = [
      { ...base, doc: 'x' },
      { ...base, fields: [{ name: 'title', type: 'string', doc: 'another' }] },
      { ...base, fields: [{ name: 'title', type: 'string', doc: 'the title', default: '' }] },
      { ...base, fields: [{ name: 'title', type: 'string', doc: 'the title', aliases: ['t'] }] },
      { ...base, fields: [{ name: 'title', type: 'string', doc: 'the title', order: 'descending' }] },
    ];
    const all = new Set([canon(base), ...variants.map(canon)]);
    expect(all.size).toBe(variants.length + 1);
  });

  it('writes nested named types relative to the enclosing namespace and references by name', () => {
    const s = {
      type: 'record',
      name: 'a.b.Outer',
      fields: [
        { name: 'x', type: { type: 'record', name: 'Inner', fields: [{ name: 'n', type: 'int' }] } },
        { name: 'y', type: 'a.b.Inner' },
        { name: 'z', type: { type: 'enum', name: 'c.E', symbols: ['A'] } },
      ],
    };
    expect(JSON.parse(canon(s))).toEqual({
      type: 'record',
      name: 'Outer',
      namespace: 'a.b',
      fields: [
        { name: 'x', type: { type: 'record', name: 'Inner', fields: [{ name: 'n', type: 'int' }] } },
        { name: 'y', type: 'Inner' },
        { name: 'z', type: { type: 'enum', name: 'E', namespace: 'c', symbols: ['A'] } },
      ],
    });
  });

  it('rejects invalid schemas with the reason', () => {
    expect(() => canon('{not json')).toThrow(InvalidSchemaError);
    expect(() => canon({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'nope' }] })).toThrow(/nope/);
    expect(() => canon({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'int', default: 'x' }] })).toThrow(
      /default/,
    );
    expect(() => canon({ type: 'enum', name: 'E', symbols: ['A', 'A'] })).toThrow(InvalidSchemaError);
  });

  it('resolves references defined before the schema', () => {
    const ref = JSON.stringify({ type: 'record', name: 'feedlog.Meta', fields: [{ name: 'lang', type: 'string' }] });
    const p = parseAvroSchema(
      JSON.stringify({ type: 'record', name: 'feedlog.H', fields: [{ name: 'm', type: 'feedlog.Meta' }] }),
      [ref],
    );
    expect(p.canonical).toContain('"type":"Meta"');
    expect(() =>
      parseAvroSchema(JSON.stringify({ type: 'record', name: 'H', fields: [{ name: 'm', type: 'feedlog.Meta' }] })),
    ).toThrow(InvalidSchemaError);
  });

  it('fingerprints include the references', () => {
    const c = canon(base);
    expect(schemaFingerprint('AVRO', c, [])).toBe(schemaFingerprint('AVRO', canon(base), []));
    expect(schemaFingerprint('AVRO', c, [{ name: 'x', subject: 's', version: 1 }])).not.toBe(
      schemaFingerprint('AVRO', c, []),
    );
  });
});
