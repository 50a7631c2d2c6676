import { XMLValidator } from 'fast-xml-parser';
import { FeedParseError } from './errors.ts';

export type FeedFormat = 'rss0.91' | 'rss0.92' | 'rss2.0' | 'rss1.0/rdf' | 'rdf' | 'atom' | 'atom-entry';

export interface RootInfo {
  format: FeedFormat;
  /** xml:base on the root element, when given */
  xmlBase: string | null;
}

// after the prolog: XML declaration, processing instructions, comments, a DOCTYPE
const rootRe =
  /^(?:\s|<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>[]*(?:\[[\s\S]*?\])?\s*>)*<([A-Za-z_][\w:.-]*)([^>]*)>/;

/**
 * Well-formedness first (fast-xml-parser's validator: truncation, junk after the root element,
 * a bare `&`, an undefined entity, a mismatched tag), so nothing partial is ever produced from a
 * broken document; then the format, from the root element.
 */
export function checkRoot(xml: string): RootInfo {
  const m = rootRe.exec(xml);
  if (!m) {
    if (/^\s*<(!doctype\s+html|html)\b/i.test(xml))
      throw new FeedParseError('html_not_feed', 'the body is an HTML page, not a feed');
    throw new FeedParseError(
      'not_xml',
      `the body does not start with an XML element: ${JSON.stringify(xml.slice(0, 40))}`,
    );
  }
  const name = m[1]!;
  const attrs = m[2] ?? '';
  if (/^(html|head|body)$/i.test(name))
    throw new FeedParseError('html_not_feed', `the body is HTML (<${name}>), not a feed`);
  const valid = XMLValidator.validate(xml, { allowBooleanAttributes: true });
  if (valid !== true) {
    const e = valid.err;
    throw new FeedParseError('malformed_xml', `${e.msg} (line ${e.line}, column ${e.col})`);
  }
  undefinedEntity(xml);
  const attr = (a: string) => new RegExp(`\\s${a}\\s*=\\s*["']([^"']*)["']`).exec(attrs)?.[1] ?? null;
  const xmlBase = attr('xml:base');
  const local = name.includes(':') ? name.slice(name.indexOf(':') + 1) : name;
  if (local === 'rss') {
    const v = attr('version') ?? '2.0';
    return { format: v === '0.91' ? 'rss0.91' : v === '0.92' ? 'rss0.92' : 'rss2.0', xmlBase };
  }
  if (local === 'RDF') return { format: 'rss1.0/rdf', xmlBase };
  if (local === 'rdf') return { format: 'rdf', xmlBase };
  if (local === 'feed') return { format: 'atom', xmlBase };
  if (local === 'entry') return { format: 'atom-entry', xmlBase };
  throw new FeedParseError('not_a_feed', `the root element is <${name}>, not rss, rdf:RDF or feed`);
}

const xmlEntities = new Set(['amp', 'lt', 'gt', 'quot', 'apos']);
/** An entity XML does not define (`&nbsp;` outside a DTD) makes the document malformed. */
function undefinedEntity(xml: string): void {
  if (/<!DOCTYPE[^>]*\[/.test(xml)) return; // an internal subset may define entities
  const re = /&([A-Za-z_][\w.-]*);/g;
  let m: RegExpExecArray | null;
  // biome-ignore lint/suspicious/noAssignInExpressions: the usual exec loop
  while ((m = re.exec(xml))) {
    if (xmlEntities.has(m[1]!)) continue;
    // inside CDATA an ampersand is text
    const before = xml.lastIndexOf('<![CDATA[', m.index);
    if (before >= 0 && xml.indexOf(']]>', before) > m.index) continue;
    const line = xml.slice(0, m.index).split('\n').length;
    throw new FeedParseError('malformed_xml', `undefined entity &${m[1]}; (line ${line})`);
  }
}
