import { gzipSync } from 'node:zlib';
import { itemId } from '@feedlog/schemas';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { FeedParseError, parseFeedBody, parseFeedDate } from '../src/parse/index.ts';

const feedUrl = 'https://news.example.com/feeds/world.xml';
const rss = (items: string, decl = '<?xml version="1.0" encoding="UTF-8"?>', attrs = '') =>
  `${decl}\n<rss version="2.0"${attrs}><channel><title>World</title><link>https://news.example.com/</link>${items}</channel></rss>`;
const item = (title: string, extra = '') => `<item><title>${title}</title>${extra}</item>`;
const parse = (body: string | Buffer, opts: Partial<Parameters<typeof parseFeedBody>[1]> = {}) =>
  parseFeedBody(typeof body === 'string' ? Buffer.from(body) : body, { feedUrl, ...opts });

describe('encodings', () => {
  it('windows-1251 declared', async () => {
    const xml = rss(item('Новости дня', '<guid>a1</guid>'), '<?xml version="1.0" encoding="windows-1251"?>');
    const r = await parse(iconv.encode(xml, 'win1251'));
    expect(r.items[0]!.title).toBe('Новости дня');
    expect(r.encoding).toBe('windows-1251');
  });
  it('UTF-16 with a BOM, and big-endian without one', async () => {
    const xml = rss(item('Ελληνικά ✓', '<guid>a</guid>'), '<?xml version="1.0" encoding="UTF-16"?>');
    const le = await parse(Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(xml, 'utf-16le')]));
    expect(le.items[0]!.title).toBe('Ελληνικά ✓');
    const be = await parse(iconv.encode(xml, 'utf-16be'));
    expect([be.encoding, be.items[0]!.title]).toEqual(['utf-16be', 'Ελληνικά ✓']);
  });
  it('ISO-8859-1 declared; undeclared non-UTF-8 falls back to windows-1252; the HTTP charset is used when the body names none', async () => {
    const title = 'Café à la mode – «été»';
    const declared = await parse(
      iconv.encode(rss(item(title, '<guid>x</guid>'), '<?xml version="1.0" encoding="ISO-8859-1"?>'), 'latin1'),
    );
    expect(declared.items[0]!.title).toBe(title.replace('–', '?'));
    const undeclared = await parse(
      iconv.encode(rss(item(title, '<guid>x</guid>'), '<?xml version="1.0"?>'), 'win1252'),
    );
    expect([undeclared.items[0]!.title, undeclared.encoding]).toEqual([title, 'windows-1252']);
    const http = await parse(iconv.encode(rss(item('Вести', '<guid>x</guid>'), '<?xml version="1.0"?>'), 'koi8-r'), {
      httpCharset: 'koi8-r',
    });
    expect(http.items[0]!.title).toBe('Вести');
  });
  it('whitespace and a BOM before the XML declaration are tolerated', async () => {
    const r = await parse(`\uFEFF \n\t${rss(item('Hi', '<guid>g</guid>'))}`);
    expect(r.items).toHaveLength(1);
  });
});

describe('content', () => {
  it('entities and CDATA become text; whitespace collapses', async () => {
    const r = await parse(
      rss(
        item('Tom &amp; Jerry &#233;t&#xE9; &lt;3', '<guid>1</guid>') +
          item(
            '<![CDATA[Fish & <b>chips</b>]]>',
            '<guid>2</guid><description><![CDATA[<p>a\n\n  b</p>]]></description>',
          ),
      ),
    );
    expect(r.items.map((i) => i.title)).toEqual(['Tom & Jerry été <3', 'Fish & <b>chips</b>']);
    expect(r.items[1]!.summary).toBe('<p>a b</p>');
  });
  it('relative links resolve against xml:base, else the feed URL', async () => {
    const withBase = await parse(
      rss(item('A', '<link>a/1.html</link>'), undefined, ' xml:base="https://cdn.example.org/x/"'),
    );
    expect(withBase.items[0]!.url).toBe('https://cdn.example.org/x/a/1.html');
    const atom = await parse(
      `<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>e1</id><title>E</title><link href="../2024/e1"/><updated>2024-05-01T10:00:00+02:00</updated></entry></feed>`,
    );
    expect(atom.items[0]!.url).toBe('https://news.example.com/2024/e1');
    expect(new Date(atom.items[0]!.published_at).toISOString()).toBe('2024-05-01T08:00:00.000Z');
  });
  it('an item without a date gets the poll time and says so', async () => {
    const r = await parse(
      rss(item('A', '<guid>g</guid>') + item('B', '<guid>h</guid><pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate>')),
      { now: 1_700_000_000_000 },
    );
    expect(r.items.map((i) => [i.published_at, i.dateFromPoll])).toEqual([
      [1_700_000_000_000, true],
      [Date.UTC(2003, 5, 10, 4), false],
    ]);
  });
});

describe('dates', () => {
  it.each([
    ['Thu, 07 Dec 17 10:00:29 -0800', '2017-12-07T18:00:29.000Z'],
    ['Mon, 9 Jul 2018 12:00 EST', '2018-07-09T17:00:00.000Z'],
    ['Sat, Dec 16 2023 02:02:33 PM', '2023-12-16T14:02:33.000Z'],
    ['03 Apr 02 1500 GMT', '2002-04-03T15:00:00.000Z'],
    ['Sat, 07 Sept 2002 00:00:01 GMT', '2002-09-07T00:00:01.000Z'],
    ['2022-04-21T00:00:00+02:00', '2022-04-20T22:00:00.000Z'],
    ['2017-06-13T09:00:00.123Z', '2017-06-13T09:00:00.123Z'],
    ['2018-07-09 12:00:00', '2018-07-09T12:00:00.000Z'],
    ['Wed, 02 Oct 2002 08:00:00 CEST', '2002-10-02T06:00:00.000Z'],
  ])('%s → %s', (text, iso) => {
    expect(new Date(parseFeedDate(text)!).toISOString()).toBe(iso);
  });
  it('junk is no date', () => {
    expect(parseFeedDate('yesterday-ish')).toBeNull();
    expect(parseFeedDate('Mon, 9 Foo 2018 12:00 GMT')).toBeNull();
  });
});

describe('stable ids', () => {
  it('guid, then the canonical link without tracking parameters, then title + date', async () => {
    const r = await parse(
      rss(
        item('A', '<guid>urn:a</guid><link>https://news.example.com/a</link>') +
          item('B', '<link>https://news.example.com/b?utm_source=rss&amp;id=7</link>') +
          item('C', '<pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate>'),
      ),
    );
    expect(r.items.map((i) => i.idFrom)).toEqual(['guid', 'link', 'title+date']);
    // the API's function, with the feed's host as the source
    expect(r.items[0]!.item_id).toBe(itemId({ source: 'news.example.com', guid: 'urn:a', url: '' }));
    expect(r.items[1]!.item_id).toBe(itemId({ source: 'news.example.com', url: 'https://news.example.com/b?id=7' }));
    const again = await parse(rss(item('B2', '<link>https://news.example.com/b?id=7&amp;fbclid=zz</link>')));
    expect(again.items[0]!.item_id).toBe(r.items[1]!.item_id);
  });
  it('the same guid in two feeds of one publisher is one item', async () => {
    const body = rss(item('A', '<guid>story-1</guid>'));
    const a = await parse(body, { feedUrl: 'https://www.news.example.com/world.xml' });
    const b = await parse(body, { feedUrl: 'https://news.example.com/europe.rss' });
    expect(a.items[0]!.item_id).toBe(b.items[0]!.item_id);
  });
});

describe('malformed input: a clear error, nothing partial', () => {
  const cases: [string, Buffer, string][] = [
    ['truncated', Buffer.from(rss(item('A', '<guid>g</guid>')).slice(0, -30)), 'malformed_xml'],
    ['junk after the root', Buffer.from(`${rss(item('A'))}\n<rss></rss>`), 'malformed_xml'],
    ['an undefined entity', Buffer.from(rss(item('A &nbsp; B'))), 'malformed_xml'],
    ['a bare ampersand', Buffer.from(rss(item('A & B'))), 'malformed_xml'],
    ['a gzip body without Content-Encoding', gzipSync(rss(item('A'))), 'gzip_without_header'],
    [
      'an HTML page',
      Buffer.from('<!DOCTYPE html><html><head><title>x</title></head><body></body></html>'),
      'html_not_feed',
    ],
    ['JSON', Buffer.from('{"items": []}'), 'not_xml'],
    ['an empty body', Buffer.alloc(0), 'empty'],
    ['XML that is no feed', Buffer.from('<?xml version="1.0"?><catalog><book/></catalog>'), 'not_a_feed'],
  ];
  it.each(cases)('%s', async (_name, body, code) => {
    const err = await parse(body).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FeedParseError);
    expect((err as FeedParseError).code).toBe(code);
  });
});
