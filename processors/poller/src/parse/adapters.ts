import { parseFeed as rowanmanning } from '@rowanmanning/feed-parser';

/** An item as a library gives it, before feedlog's normalisation (links, dates, ids). */
export interface LibraryItem {
  guid: string | null;
  link: string | null;
  title: string | null;
  summary: string | null;
  /** the date text as published (RFC 822 / RFC 3339 / broken), or an ISO string */
  date: string | null;
}

/** One candidate parser: XML text in, items out (throws when it cannot read a feed). */
export type FeedLibrary = (xml: string) => LibraryItem[] | Promise<LibraryItem[]>;

interface XmlElement {
  findElementWithName(name: string): { textContentNormalized: string } | null;
}
/** The date as the feed wrote it (feedlog's own date parser reads the broken variants too). */
const rawDate = (el: XmlElement): string | null => {
  for (const name of ['pubdate', 'published', 'date', 'issued', 'updated', 'modified']) {
    const t = el.findElementWithName(name)?.textContentNormalized;
    if (t) return t;
  }
  return null;
};

export const rowanmanningLibrary: FeedLibrary = (xml) =>
  rowanmanning(xml).items.map((i) => ({
    guid: i.id,
    link: i.url,
    title: i.title,
    summary: i.description,
    date: rawDate(i.element as unknown as XmlElement) ?? (i.published ?? i.updated)?.toISOString() ?? null,
  }));
