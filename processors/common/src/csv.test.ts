import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from './config.ts';
import { CsvFileError, parseCsvFile } from './csv.ts';

// A tab-separated line inside a comma-separated file made `feedlog train classify` and
// `feedlog eval cluster` die with csv-parse's raw CsvError stack.
const dir = mkdtempSync(join(tmpdir(), 'feedlog-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bad = join(dir, 'bad.csv');
writeFileSync(
  bad,
  'ID,TITLE,URL,PUBLISHER,CATEGORY,STORY,HOSTNAME,TIMESTAMP\n1,Fed holds,u,p,b,s1,h,1\n2\tb\tu\tp\tb\ts1\th\t2\n',
);

describe('CSV loading', () => {
  it('parseCsvFile names the file and the line of a malformed row', () => {
    let err: unknown;
    try {
      parseCsvFile('a,b\n1,2\n3\t4\n', 'x.csv', { columns: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CsvFileError);
    expect((err as CsvFileError).message).toMatch(/^x\.csv: line 3: /);
  });

  for (const args of [
    ['train', 'classify', '--data', bad],
    ['eval', 'cluster', '--data', bad],
  ]) {
    it(`feedlog ${args.slice(0, 2).join(' ')} reports file and line, no stack`, () => {
      const r = spawnSync(process.execPath, [join(repoRoot(), 'bin/feedlog'), ...args], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`${bad}: line 3:`);
      expect(r.stderr).not.toMatch(/CsvError|\n\s+at /);
    });
  }
});
