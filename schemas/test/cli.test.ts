import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { formatCheck, registerSchemaCommands } from '../src/cli.ts';

describe('schemas CLI', () => {
  it('registers register, check and seed-from under schemas', () => {
    const program = new Command();
    const schemas = registerSchemaCommands(program);
    expect(schemas.commands.map((c) => c.name()).sort()).toEqual(['check', 'register', 'seed-from']);
    const check = schemas.commands.find((c) => c.name() === 'check')!;
    expect(check.options.map((o) => o.long)).toEqual(
      expect.arrayContaining(['--registry', '--json', '--prefix', '--schemas-dir']),
    );
  });

  it('names the subject and the offending field, and hides the echoed old schema', () => {
    const out = formatCheck([
      {
        subject: 'raw-headlines-value',
        record: 'RawHeadline',
        status: 'incompatible',
        level: 'BACKWARD',
        registeredVersion: 3,
        messages: ["{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE'}", "{oldSchema: '{...}'}"],
        changes: [
          { path: 'RawHeadline.headline.country', kind: 'added', hasDefault: false, offending: true },
          { path: 'RawHeadline.headline.lang', kind: 'added', hasDefault: true, offending: false },
        ],
      },
      { subject: 'classified-value', record: 'ClassifiedHeadline', status: 'new-subject', messages: [], changes: [] },
    ]);
    expect(out).toContain('INCOMPATIBLE raw-headlines-value (RawHeadline vs version 3, BACKWARD)');
    expect(out).toContain('field RawHeadline.headline.country: added without a default');
    expect(out).not.toContain('headline.lang');
    expect(out).toContain('READER_FIELD_MISSING_DEFAULT_VALUE');
    expect(out).not.toContain('oldSchema');
    expect(out).toContain('classified-value (ClassifiedHeadline): not registered yet');
    expect(out).toMatch(/1 subject\(s\) incompatible$/);
  });
});
