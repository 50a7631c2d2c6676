import { describe, expect, it } from 'vitest';
import { MigrationChecksumError, MigrationError, readMigrations, sha256, verifyApplied } from '../src/index.ts';

const files = readMigrations();
const at = new Date('2026-01-01T00:00:00Z');

describe('verifyApplied', () => {
  it('accepts what the files say', () => {
    expect(() =>
      verifyApplied(
        files,
        files.map((f) => ({ name: f.name, checksum: f.checksum, applied_at: at })),
      ),
    ).not.toThrow();
    expect(() => verifyApplied(files, [])).not.toThrow();
  });

  it('names the edited file', () => {
    const applied = files.map((f, i) => ({
      name: f.name,
      checksum: i === 1 ? sha256('old text') : f.checksum,
      applied_at: at,
    }));
    expect(() => verifyApplied(files, applied)).toThrowError(MigrationChecksumError);
    expect(() => verifyApplied(files, applied)).toThrowError(files[1]!.name);
  });

  it('refuses a recorded migration whose file is gone, and a new file numbered before applied ones', () => {
    expect(() => verifyApplied(files, [{ name: '0999_gone.sql', checksum: 'x', applied_at: at }])).toThrowError(
      /0999_gone\.sql.*gone/,
    );
    const second = files[1]!;
    const e = (() => {
      try {
        verifyApplied(files, [{ name: second.name, checksum: second.checksum, applied_at: at }]);
      } catch (err) {
        return err as MigrationError;
      }
    })();
    expect(e).toBeInstanceOf(MigrationError);
    expect(e?.file).toBe(files[0]!.name);
  });
});
