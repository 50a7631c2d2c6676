import { createHash } from 'node:crypto';
import { canonicalUrl, itemId } from '@feedlog/schemas';
import { type FeedLibrary, type LibraryItem, rowanmanningLibrary } from './adapters.ts';
import { parseFeedDate } from './dates.ts';
import { decodeBody } from './decode.ts';
import { FeedParseError } from './errors.ts';
import { checkRoot, type FeedFormat } from './root.ts';

export { parseFeedDate } from './dates.ts';
export { FeedParseError } from './errors.ts';

/** A feed item ready for raw-headlines. */
export interface FeedItem {
  item_id: string;
  source: string;
  guid: string | null;
  url: string;
  title: string;
  summary: string | null;
  /** epoch ms UTC; the poll time when the feed gives no date (then dateFromPoll is true) */
  published_at: number;
  dateFromPoll: boolean;
  /** which identity the id was built from */
  idFrom: 'guid' | 'link' | 'title+date';
}

export interface ParsedFeed {
  format: FeedFormat;
  encoding: string;
  declaredEncoding: string | null;
  items: FeedItem[];
}

export interface ParseOptions {
  /** the URL the feed was fetched from: relative links resolve against it */
  feedUrl: string;
  /** the source id in item ids (default: the feed URL's host without `www.`) */
  source?: string;
  /** charset from the HTTP Content-Type, used when the body declares none */
  httpCharset?: string | null;
  /** the poll time, given to items without a date (default now) */
  now?: number;
  /** the XML library (default @rowanmanning/feed-parser, chosen by bench/feeds-parse.ts) */
  library?: FeedLibrary;
}

/** The default source of a feed's items: its host, so two feeds of one publisher share guids. */
export function feedSource(feedUrl: string): string {
  try {
    return new URL(feedUrl).hostname.replace(/^www\./, '');
  } catch {
    return feedUrl;
  }
}

/**
 * A feed body (bytes as fetched) to items: decode, check well-formedness and format, parse with
 * the library, then normalise (entities/CDATA already text; whitespace collapsed; links resolved
 * against xml:base and the feed URL; dates to UTC; stable ids). All or nothing: a body that
 * fails any step throws FeedParseError and yields no item.
 */
export async function parseFeedBody(bytes: Uint8Array, opts: ParseOptions): Promise<ParsedFeed> {
  const decoded = decodeBody(bytes, opts.httpCharset);
  const root = checkRoot(decoded.text);
  let xml = decoded.text;
  // A lone Atom entry, or a bare <rdf> of <item>s, is read as a feed of one shape the libraries know.
  if (root.format === 'atom-entry')
    xml = `<feed xmlns="http://www.w3.org/2005/Atom">${xml.replace(/^<\?xml[^>]*\?>/, '')}</feed>`;
  if (root.format === 'rdf')
    xml = `<rss version="2.0"><channel>${xml.replace(/^<\?xml[^>]*\?>/, '').replace(/^\s*<rdf[^>]*>|<\/rdf>\s*$/g, '')}</channel></rss>`;
  let raw: LibraryItem[];
  try {
    raw = await (opts.library ?? rowanmanningLibrary)(xml);
  } catch (e) {
    throw new FeedParseError('not_a_feed', `the ${root.format} document could not be read: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const now = opts.now ?? Date.now();
  const source = opts.source ?? feedSource(opts.feedUrl);
  const base = resolveUrl(root.xmlBase, opts.feedUrl) ?? opts.feedUrl;
  return {
    format: root.format,
    encoding: decoded.encoding,
    declaredEncoding: decoded.declared,
    items: raw.map((r) => normalise(r, { base, source, now, feedUrl: opts.feedUrl })),
  };
}

const clean = (s: string | null): string | null => {
  const t = s?.replace(/\s+/g, ' ').trim();
  return t ? t : null;
};

function resolveUrl(link: string | null, base: string): string | null {
  const l = link?.trim();
  if (!l) return null;
  try {
    return new URL(l, base).toString();
  } catch {
    return null;
  }
}

function normalise(r: LibraryItem, ctx: { base: string; source: string; now: number; feedUrl: string }): FeedItem {
  const title = clean(r.title) ?? '';
  const link = resolveUrl(r.link, ctx.base);
  const guid = clean(r.guid);
  const date = parseFeedDate(r.date);
  const published = date ?? ctx.now;
  let idFrom: FeedItem['idFrom'];
  let idGuid: string | null;
  let url: string;
  if (guid) [idFrom, idGuid, url] = ['guid', guid, link ?? ctx.feedUrl];
  else if (link) [idFrom, idGuid, url] = ['link', null, link];
  else {
    // neither guid nor link: the title and the feed's own date text are the identity
    const h = createHash('sha256')
      .update(`${title}\n${r.date ?? ''}`)
      .digest('hex')
      .slice(0, 32);
    [idFrom, idGuid, url] = ['title+date', `title+date:${h}`, ctx.feedUrl];
  }
  return {
    item_id: itemId({ source: ctx.source, guid: idGuid, url }),
    source: ctx.source,
    guid: idGuid,
    url: canonicalUrl(url),
    title,
    summary: clean(r.summary),
    published_at: published,
    dateFromPoll: date === null,
    idFrom,
  };
}
