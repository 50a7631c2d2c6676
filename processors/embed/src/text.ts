/** What the embed stage needs of a headline. */
export interface EmbeddableHeadline {
  title: string;
  summary: string | null;
}

const SEPARATOR = '\n';

/** Unicode NFC, every run of whitespace (incl. newlines, tabs, NBSP) as one space, trimmed. */
function clean(s: string): string {
  return s.normalize('NFC').replace(/\s+/gu, ' ').trim();
}

/**
 * The text the stage embeds for a headline, the same for the same title and summary every time:
 * NFC-normalised, whitespace collapsed, `title` then (when there is one) `"\n" + summary`, cut
 * at `maxChars` code points (never inside a surrogate pair). The endpoint then truncates by its own
 * token window (the local embedder keeps the first `window - 2` word pieces: deterministic too), so
 * a long text is cut the same way on every run, replay or provider retry. Returns '' when there is
 * nothing to embed (the stage dead-letters such a record).
 */
export function embeddingText(h: EmbeddableHeadline, maxChars = 4_096): string {
  const title = clean(h.title);
  const summary = h.summary ? clean(h.summary) : '';
  const text = title && summary ? `${title}${SEPARATOR}${summary}` : title || summary;
  if (text.length <= maxChars) return text;
  // code points, not UTF-16 units: a cut never leaves half a surrogate pair
  return Array.from(text).slice(0, maxChars).join('').trimEnd();
}
