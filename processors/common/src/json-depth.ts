/**
 * The nesting depth of a JSON text, or -1 as soon as it exceeds `max`, counted over the bytes
 * before anything is built: JSON.parse of an 8 MiB `[[[[…` builds four million arrays and holds
 * the event loop for seconds, and recursive walkers over the result overflow the stack. This is
 * one pass with no allocation. Brackets inside strings (escapes included) do not count; malformed
 * text is left for JSON.parse to report. Used by the API's body parser and the schema registry.
 */
export function jsonDepth(text: Uint8Array | string, max: number): number {
  const bytes = typeof text === 'string' ? null : text;
  const len = text.length;
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < len; i++) {
    // '"' '\\' '[' ']' '{' '}' are ASCII, so UTF-16 code units and UTF-8 bytes compare alike
    const c = bytes ? bytes[i]! : (text as string).charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return -1;
      if (depth > deepest) deepest = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/**
 * Which bound a JSON text breaks, before it is parsed: nesting deeper than `maxDepth`, or more
 * than `maxValues` array elements and object members in all (a flat 8 MiB `[1,1,1,…]` is four
 * million values: cheap to send, tens of milliseconds of JSON.parse on the event loop).
 */
export function jsonOverLimits(
  bytes: Uint8Array,
  limits: { maxDepth: number; maxValues: number },
): 'depth' | 'values' | undefined {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let depth = 0;
  let values = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (c === 0x22) {
      i = stringEnd(buf, i);
      if (i < 0) return undefined; // unterminated: JSON.parse reports it
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limits.maxDepth) return 'depth';
      if (++values > limits.maxValues) return 'values';
    } else if (c === 0x5d || c === 0x7d) depth--;
    else if (c === 0x2c && ++values > limits.maxValues) return 'values';
  }
  return undefined;
}

/**
 * The index of the quote closing the string opened at `open`, or -1. Jumps from quote to quote
 * with Buffer#indexOf (native memchr), so string-heavy bodies cost little: a quote preceded by an
 * odd number of backslashes is escaped.
 */
function stringEnd(buf: Buffer, open: number): number {
  let at = open;
  for (;;) {
    at = buf.indexOf(0x22, at + 1);
    if (at < 0) return -1;
    let slashes = 0;
    while (buf[at - 1 - slashes] === 0x5c) slashes++;
    if (slashes % 2 === 0) return at;
  }
}
