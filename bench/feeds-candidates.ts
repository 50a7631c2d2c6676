// The other candidates bench/feeds-parse.ts measured against @rowanmanning/feed-parser (the one
// feedlog uses, in processors/poller/src/parse/adapters.ts), behind the same interface.
import { XMLParser } from 'fast-xml-parser';
import { parseFeed as feedsmith } from 'feedsmith';
import RssParser from 'rss-parser';
import { type FeedLibrary, rowanmanningLibrary } from '../processors/poller/src/parse/adapters.ts';

const str = (v: unknown): string | null => {
  if (v == null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'object' && 'value' in v) return str((v as { value: unknown }).value);
  if (typeof v === 'object' && '#text' in v) return str((v as { '#text': unknown })['#text']);
  return null;
};

interface SmithItem {
  title?: unknown;
  link?: unknown;
  links?: { href?: string; rel?: string }[];
  guid?: unknown;
  id?: unknown;
  description?: unknown;
  summary?: unknown;
  pubDate?: unknown;
  published?: unknown;
  updated?: unknown;
  dc?: { dates?: string[]; date?: string };
  rdf?: { about?: string };
}

export const feedsmithLibrary: FeedLibrary = (xml) => {
  const r = feedsmith(xml) as { format: string; feed: { items?: SmithItem[]; entries?: SmithItem[] } };
  const items = r.feed.items ?? r.feed.entries ?? [];
  return items.map((i) => {
    const alternate = i.links?.find((l) => !l.rel || l.rel === 'alternate') ?? i.links?.[0];
    return {
      guid: str(i.guid) ?? str(i.id) ?? null,
      link: str(i.link) ?? alternate?.href ?? i.rdf?.about ?? null,
      title: str(i.title),
      summary: str(i.description) ?? str(i.summary),
      date: str(i.pubDate) ?? str(i.published) ?? i.dc?.dates?.[0] ?? i.dc?.date ?? str(i.updated),
    };
  });
};

const rss = new RssParser();
export const rssParserLibrary: FeedLibrary = async (xml) =>
  (await rss.parseString(xml)).items.map((i) => ({
    guid: i.guid ?? (i as { id?: string }).id ?? null,
    link: i.link ?? null,
    title: i.title ?? null,
    summary: i.contentSnippet ?? i.summary ?? null,
    date: i.pubDate ?? i.isoDate ?? null,
  }));

// fast-xml-parser to a tree, then our own walk of the three shapes (RSS 0.9x/2.0, RDF, Atom).
const fxp = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: false,
  isArray: (name) => name === 'item' || name === 'entry' || name === 'link' || name === 'atom:link',
  processEntities: true,
  htmlEntities: false,
  parseTagValue: false,
  trimValues: true,
});
type Node = Record<string, unknown>;
const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);
export const fastXmlLibrary: FeedLibrary = (xml) => {
  const doc = fxp.parse(xml) as Node;
  const rssRoot = doc.rss as Node | undefined;
  const rdfRoot = (doc['rdf:RDF'] ?? doc.RDF ?? doc.rdf) as Node | undefined;
  const atomRoot = (doc.feed ?? (doc.entry ? { entry: doc.entry } : undefined)) as Node | undefined;
  if (rssRoot || rdfRoot) {
    const channel = (rssRoot?.channel ?? rdfRoot?.channel ?? {}) as Node;
    const items = (channel.item ?? rdfRoot?.item ?? []) as Node[];
    return items.map((i) => ({
      guid: str(i.guid) ?? null,
      link: str(first(i.link)) ?? (i['@rdf:about'] as string | undefined) ?? null,
      title: str(i.title),
      summary: str(i.description),
      date: str(i.pubDate) ?? str(i['dc:date']) ?? null,
    }));
  }
  if (atomRoot) {
    return ((atomRoot.entry ?? []) as Node[]).map((e) => {
      const links = (e.link ?? []) as Node[];
      const alt = links.find((l) => !l['@rel'] || l['@rel'] === 'alternate') ?? links[0];
      return {
        guid: str(e.id),
        link: (alt?.['@href'] as string | undefined) ?? null,
        title: str(e.title),
        summary: str(e.summary) ?? null,
        date: str(e.published) ?? str(e.updated) ?? null,
      };
    });
  }
  throw new Error('not an RSS, RDF or Atom document');
};

export const libraries: Record<string, FeedLibrary> = {
  feedsmith: feedsmithLibrary,
  '@rowanmanning/feed-parser': rowanmanningLibrary,
  'rss-parser': rssParserLibrary,
  'fast-xml-parser (own walk)': fastXmlLibrary,
};
