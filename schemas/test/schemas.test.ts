import { declareFeedlog, type ValueRecord } from '@feedlog/topics';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { type AvroJson, readSchemaFiles } from '../src/files.ts';
import { sampleRecords } from '../src/fixtures.ts';
import { recordFiles } from '../src/generated.ts';
import { loadSchemas } from '../src/load.ts';

const files = readSchemaFiles();

function* fieldsOf(t: AvroJson, path: string): Generator<{ path: string; field: { [k: string]: AvroJson } }> {
  if (Array.isArray(t)) for (const b of t) yield* fieldsOf(b, path);
  else if (t && typeof t === 'object') {
    if (t.type === 'record') {
      for (const f of t.fields as { [k: string]: AvroJson }[]) {
        yield { path: `${path}.${f.name}`, field: f };
        yield* fieldsOf(f.type as AvroJson, `${path}.${f.name}`);
      }
    } else if (t.type === 'array') yield* fieldsOf(t.items as AvroJson, path);
    else if (t.type === 'map') yield* fieldsOf(t.values as AvroJson, path);
  }
}

describe('schemas/*.avsc', () => {
  it('are the six records, in namespace dev.feedlog, each parsing on its own', () => {
    expect(files.map((f) => f.name).sort()).toEqual(Object.keys(recordFiles).sort());
    for (const f of files) {
      expect(f.json.namespace, f.name).toBe('dev.feedlog');
      expect(avro.Type.forSchema(f.json as avro.Schema).name).toBe(`dev.feedlog.${f.name}`);
    }
  });

  it('every field is documented and every optional field is ["null", T] with default null', () => {
    for (const f of files) {
      for (const { path, field } of fieldsOf(f.json as AvroJson, f.name)) {
        if (f.name !== 'DeadLetter' || !path.includes('headers.')) expect(field.doc, path).toBeTruthy();
        if (Array.isArray(field.type) && field.type.includes('null')) {
          expect(field.type[0], path).toBe('null');
          expect(field.default, path).toBeNull();
        }
      }
    }
  });

  it('each later record carries the blocks of the stages before it (usable on its own)', () => {
    const names = (r: string) => files.find((f) => f.name === r)!.json.fields.map((x) => (x as { name: string }).name);
    expect(names('RawHeadline')).toEqual(['item_id', 'job_id', 'headline']);
    expect(names('ClassifiedHeadline')).toEqual([...names('RawHeadline'), 'classification']);
    expect(names('ClusteredHeadline')).toEqual([...names('ClassifiedHeadline'), 'story']);
    expect(names('EmbeddedHeadline')).toEqual([...names('ClusteredHeadline'), 'embedding']);
    expect(names('IndexedHeadline')).toEqual([...names('EmbeddedHeadline'), 'index']);
  });

  it('every topic value record has an .avsc, and every record but none is unused', () => {
    const used = new Set<ValueRecord>();
    for (const t of declareFeedlog().topics) if (t.value) used.add(t.value.record);
    expect([...used].sort()).toEqual(files.map((f) => f.name).sort());
  });

  it('the sample records round-trip through avsc unchanged', () => {
    const { types } = loadSchemas();
    const samples = sampleRecords();
    for (const [name, value] of Object.entries(samples)) {
      const type = types[name as keyof typeof samples];
      expect(type.isValid(value), name).toBe(true);
      expect(type.fromBuffer(type.toBuffer(value)), name).toEqual(value);
    }
  });

  it('loadSchemas binds subjects by TopicNameStrategy', () => {
    const s = loadSchemas({ prefix: 't1-' });
    expect(s.subjectOf('t1-classified')).toBe('t1-classified-value');
    expect(s.recordOf('t1-embedded')).toBe('EmbeddedHeadline');
    expect(s.subjects.find((b) => b.topic === 't1-embed.dlq')).toEqual({
      subject: 't1-embed.dlq-value',
      topic: 't1-embed.dlq',
      record: 'DeadLetter',
    });
    expect(() => s.recordOf('t1-feedlog.cluster.changelog')).toThrow(/not declared with an Avro value/);
  });
});
