import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFeedBody } from '../src/parse/index.ts';
import { sharedFeedsForTests } from './shared-feeds.ts';

const dir = sharedFeedsForTests();
const goldenDir = join(import.meta.dirname, 'golden');
/** Fixed poll time, so an item without a date has a stable golden value. */
const POLL = Date.UTC(2026, 0, 1, 12);

/** Real news feeds: several publishers, RSS 0.91/0.92/1.0/2.0 and Atom, ISO-8859-1, relative links, a broken date. */
const feeds = [
  'rss-parser/encoding.rss',
  'rss-parser/reddit.rss',
  'rss-parser/heraldsun.rss',
  'rss-parser/rss-1.rss',
  'node-feedparser/wapowellness.xml',
  'node-feedparser/tpm.atom',
  'node-feedparser/category-feed.xml',
  'node-feedparser/rss-with-relative-urls.xml',
  'feed-rs/rss2_rss_2.0_nbcny.xml',
  'feed-rs/rss2_rss_2.0_ilgiornale.xml',
  'feed-rs/atom_atom_example_2.xml',
  'feed-rs/rss0_rss_0.91_encoding_1.xml',
];

// UPDATE_GOLDEN=1 rewrites the files (then read the diff before committing it).
describe.skipIf(!dir)('golden: real news feeds item by item', () => {
  for (const file of feeds) {
    it(file, async () => {
      const r = await parseFeedBody(readFileSync(join(dir!, file)), {
        feedUrl: `https://feeds.test/${file}`,
        now: POLL,
      });
      const got = r.items.map((i) => ({
        id: i.item_id,
        title: i.title,
        link: i.url,
        date: new Date(i.published_at).toISOString(),
        dateFromPoll: i.dateFromPoll,
      }));
      const golden = join(goldenDir, `${file.replace('/', '__')}.json`);
      if (process.env.UPDATE_GOLDEN) writeFileSync(golden, `${JSON.stringify(got, null, 1)}\n`);
      expect(got).toEqual(JSON.parse(readFileSync(golden, 'utf8')));
    });
  }
});
