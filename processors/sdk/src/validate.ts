import type { FeedItemInput } from './client.ts';

const limits = { source: 512, url: 2048, title: 1000, guid: 1024, summary: 10_000 } as const;
const MAX_FUTURE_MS = 86_400_000;

/**
 * The checks POST /v1/items makes (api/src/schemas.ts + validation.ts), run before sending so
 * `--dry-run` and `--direct` refuse exactly what the API would. Empty when the item is valid.
 */
export function itemProblems(it: FeedItemInput, now = Date.now()): string[] {
  const out: string[] = [];
  const text = (field: keyof typeof limits, v: unknown, required: boolean) => {
    if (v === null || v === undefined || v === '') {
      if (required) out.push(`${field} is missing`);
      return;
    }
    if (typeof v !== 'string') return void out.push(`${field} must be text`);
    if (v.length > limits[field]) out.push(`${field} is longer than ${limits[field]} characters`);
    if (required && !v.trim()) out.push(`${field} must not be blank`);
    if (field !== 'summary' && /[\r\n]/.test(v)) out.push(`${field} must be one line`);
  };
  text('source', it.source, true);
  text('title', it.title, true);
  text('url', it.url, true);
  text('guid', it.guid, false);
  text('summary', it.summary, false);
  if (typeof it.url === 'string' && it.url) {
    if (!/^https?:\/\/[^\s\p{Cc}]+$/iu.test(it.url) || !URL.canParse(it.url))
      out.push('url must be an absolute http(s) URL');
  }
  const p = it.published_at;
  if (p !== null && p !== undefined) {
    const t = p instanceof Date ? p.getTime() : typeof p === 'number' ? p : Date.parse(p);
    if (!Number.isFinite(t)) out.push('published_at must be a valid date-time');
    else if (t < 0 || t > now + MAX_FUTURE_MS) out.push('published_at must be between 1970 and one day from now');
  }
  return out;
}
