import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import { FeedParseError } from './errors.ts';

export interface DecodedBody {
  text: string;
  /** the encoding the bytes were decoded with (as declared, else detected) */
  encoding: string;
  /** the encoding named by the XML declaration, null when there is none */
  declared: string | null;
  /** how the encoding was chosen */
  by: 'bom' | 'declaration' | 'http' | 'utf8-valid' | 'fallback-windows-1252';
}

const declRe = /^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']/;

/**
 * Bytes of a feed body to text. Order: a byte-order mark; the XML declaration's encoding; the
 * HTTP charset; UTF-8 when the bytes are valid UTF-8; else windows-1252 (the usual undeclared
 * legacy encoding, and a superset of ISO-8859-1's printable range). A gzip body that reached us
 * undecoded (no Content-Encoding header) is refused, never parsed as text.
 */
export function decodeBody(bytes: Uint8Array, httpCharset?: string | null): DecodedBody {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length === 0) throw new FeedParseError('empty', 'the body is empty');
  if (b[0] === 0x1f && b[1] === 0x8b)
    throw new FeedParseError(
      'gzip_without_header',
      'the body is gzip-compressed but was not declared so (no Content-Encoding: gzip)',
    );
  const declaredIn = (head: string) => declRe.exec(head)?.[1] ?? null;
  let utf16: 'utf-16le' | 'utf-16be' | null = null;
  let bom = 0;
  if (b[0] === 0xff && b[1] === 0xfe) [utf16, bom] = ['utf-16le', 2];
  else if (b[0] === 0xfe && b[1] === 0xff) [utf16, bom] = ['utf-16be', 2];
  else if (b[0] === 0x3c && b[1] === 0x00) utf16 = 'utf-16le';
  else if (b[0] === 0x00 && b[1] === 0x3c) utf16 = 'utf-16be';
  if (utf16) {
    const text = strip(iconv.decode(b.subarray(bom), utf16));
    return { text, encoding: utf16, declared: declaredIn(text), by: bom ? 'bom' : 'declaration' };
  }
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) {
    const text = strip(b.toString('utf8', 3));
    return { text, encoding: 'utf-8', declared: declaredIn(text), by: 'bom' };
  }
  const declared = declaredIn(b.toString('latin1', 0, Math.min(b.length, 1024)));
  const pick = (name: string, by: DecodedBody['by']): DecodedBody => {
    if (!iconv.encodingExists(name))
      throw new FeedParseError('unsupported_encoding', `the feed is in ${name}, an encoding feedlog cannot decode`);
    return { text: strip(iconv.decode(b, name)), encoding: name, declared, by };
  };
  if (declared) {
    // A body declared UTF-8 that is not valid UTF-8 is almost always windows-1252 mislabelled.
    if (/^utf-?8$/i.test(declared) && !isUtf8(b)) return pick('windows-1252', 'fallback-windows-1252');
    return pick(declared, 'declaration');
  }
  if (httpCharset) return pick(httpCharset, 'http');
  if (isUtf8(b)) return { text: strip(b.toString('utf8')), encoding: 'utf-8', declared: null, by: 'utf8-valid' };
  return pick('windows-1252', 'fallback-windows-1252');
}

/** A BOM decoded as U+FEFF and whitespace before the XML declaration are tolerated: drop them. */
function strip(text: string): string {
  let i = 0;
  while (i < text.length && (text.charCodeAt(i) === 0xfeff || /\s/.test(text[i]!))) i++;
  return i ? text.slice(i) : text;
}
