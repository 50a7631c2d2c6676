import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { produceInput } from '../src/produce.ts';
import { parseColumnMap, readSource } from '../src/sources.ts';
import { itemProblems } from '../src/validate.ts';

const fixture = (f: string) => join(import.meta.dirname, 'fixtures', f);
const dry = { mode: 'api' as const, dryRun: true, url: 'http://127.0.0.1:1', batch: 100, concurrency: 1 };

describe('produce without a server (--dry-run)', () => {
  it('--rate paces the items', async () => {
    const t0 = performance.now();
    const s = await produceInput(fixture('items.jsonl'), { ...dry, rate: 10 });
    expect(s).toMatchObject({ produced: 3, mode: 'dry-run' });
    // items 2 and 3 wait 100 ms and 200 ms after the start
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it('a JSONL line that is not JSON is reported by line', async () => {
    const file = join(tmpdir(), `produce-${process.pid}-${Date.now()}.jsonl`);
    writeFileSync(
      file,
      [
        '{"source":"a","url":"https://a.example/1","title":"One"}',
        '{"source":"a","url":"https://a.example/2","title":',
        '',
        '{"source":"a","url":"https://a.example/1","title":"One again"}',
        '{"source":"a","url":"notaurl","title":"Bad url"}',
      ].join('\n'),
    );
    const s = await produceInput(file, dry);
    expect(s).toMatchObject({ total: 4, produced: 1, duplicates: 1, rejected: 2 });
    expect(s.rejectedRows).toEqual([
      { line: 2, reason: expect.stringMatching(/^not JSON: /) },
      { line: 5, reason: 'url must be an absolute http(s) URL' },
    ]);
  });

  it('a feed file: its items, with the given source', async () => {
    const rows = [];
    for await (const r of readSource(resolve(import.meta.dirname, '../../poller/fixtures/tech.atom'), {
      source: 'tech',
    }))
      rows.push(r);
    expect(rows.map((r) => [r.line, r.item?.source, r.item?.url])).toEqual([
      [1, 'tech', 'https://tech.example.org/posts/accelerator'],
      [2, 'tech', 'https://tech.example.org/posts/db-2'],
      [3, 'tech', 'https://tech.example.org/posts/satellite'],
    ]);
  });

  it('--map refuses unknown fields and needs title and url', () => {
    expect(() => parseColumnMap('title=T,link=L')).toThrow(/"link=L" is not field=COLUMN/);
    expect(() => parseColumnMap('title=T')).toThrow(/needs at least title/);
    expect(parseColumnMap('title=T, url=U ,published_at=W')).toEqual({ title: 'T', url: 'U', published_at: 'W' });
  });

  it('validates as the API does', () => {
    expect(itemProblems({ source: 's', url: 'https://a.b/c', title: 't' })).toEqual([]);
    expect(
      itemProblems({ source: ' ', url: 'ftp://a', title: 'two\nlines', published_at: '1960-01-01T00:00:00Z' }),
    ).toEqual([
      'source must not be blank',
      'title must be one line',
      'url must be an absolute http(s) URL',
      'published_at must be between 1970 and one day from now',
    ]);
  });
});
