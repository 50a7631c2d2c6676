import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateTypes } from '../src/codegen.ts';
import { parseSchemaFile, readSchemaFiles, schemasDir } from '../src/files.ts';

describe('generated types', () => {
  it('src/generated.ts is exactly what the .avsc files generate (run `npm run -w @feedlog/schemas gen`)', () => {
    const committed = readFileSync(join(schemasDir, 'src/generated.ts'), 'utf8');
    expect(committed).toBe(generateTypes(readSchemaFiles()));
  });

  it('maps Avro types to TypeScript', () => {
    const f = parseSchemaFile(
      '/x/T.avsc',
      JSON.stringify({
        type: 'record',
        name: 'T',
        namespace: 'dev.feedlog',
        fields: [
          { name: 'a', type: 'long' },
          { name: 'b', type: ['null', 'string'], default: null },
          { name: 'c', type: { type: 'array', items: ['null', 'float'] } },
          { name: 'd', type: { type: 'map', values: 'bytes' } },
          { name: 'e', type: { type: 'enum', name: 'Color', symbols: ['RED', 'GREEN'] } },
          { name: 'f', type: { type: 'long', logicalType: 'timestamp-millis' }, doc: 'when' },
          { name: 'g', type: 'Color' },
        ],
      }),
    );
    const out = generateTypes([f]);
    expect(out).toContain('  a: number;');
    expect(out).toContain('  b: string | null;');
    expect(out).toContain('  c: (number | null)[];');
    expect(out).toContain('  d: Record<string, Buffer>;');
    expect(out).toContain("export type Color = 'RED' | 'GREEN';");
    expect(out).toContain('  e: Color;');
    expect(out).toContain('  g: Color;');
    expect(out).toContain('/** when (Avro timestamp-millis) */');
  });

  it('refuses two different definitions of one named type (the copies of Headline cannot drift)', () => {
    const files = readSchemaFiles();
    const raw = files.find((f) => f.name === 'RawHeadline')!;
    const changed = JSON.parse(raw.text);
    changed.fields[2].type.fields.push({ name: 'extra', type: ['null', 'string'], default: null });
    const drifted = parseSchemaFile(raw.file, JSON.stringify(changed));
    expect(() => generateTypes(files.map((f) => (f === raw ? drifted : f)))).toThrow(/Headline differs/);
  });
});
