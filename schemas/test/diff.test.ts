import { describe, expect, it } from 'vitest';
import { diffSchemas } from '../src/diff.ts';
import { type AvroJson, readSchemaFiles } from '../src/files.ts';

const raw = readSchemaFiles().find((f) => f.name === 'RawHeadline')!.json as unknown as {
  fields: { name: string; type: { fields: { name: string; type: AvroJson; default?: AvroJson }[] } }[];
};
const clone = () => JSON.parse(JSON.stringify(raw)) as typeof raw;

describe('diffSchemas', () => {
  it('finds nothing between a schema and itself', () => {
    expect(diffSchemas(raw as unknown as AvroJson, clone() as unknown as AvroJson)).toEqual([]);
  });

  it('names nested added, removed and retyped fields', () => {
    const next = clone();
    const headline = next.fields[2]!.type;
    headline.fields.push({ name: 'lang', type: 'string' });
    headline.fields.push({ name: 'region', type: ['null', 'string'], default: null });
    headline.fields = headline.fields.filter((f) => f.name !== 'summary');
    headline.fields.find((f) => f.name === 'title')!.type = 'bytes';
    expect(diffSchemas(raw as unknown as AvroJson, next as unknown as AvroJson)).toEqual([
      { path: 'RawHeadline.headline.title', kind: 'type-changed', from: 'string', to: 'bytes' },
      { path: 'RawHeadline.headline.lang', kind: 'added', hasDefault: false },
      { path: 'RawHeadline.headline.region', kind: 'added', hasDefault: true },
      { path: 'RawHeadline.headline.summary', kind: 'removed', hasDefault: true },
    ]);
  });

  it('follows a rename through aliases', () => {
    const next = clone();
    const title = next.fields[2]!.type.fields.find((f) => f.name === 'title')! as { name: string; aliases?: string[] };
    title.name = 'headline_text';
    title.aliases = ['title'];
    expect(diffSchemas(raw as unknown as AvroJson, next as unknown as AvroJson)).toEqual([]);
  });
});
